import type { Clock } from './clock.js';

/**
 * Failed sign-ins counted per e-mail address and per client address over a sliding window. Past the limit, sign-in
 * is refused without checking the password (429 login_throttled with Retry-After) until the oldest failure in the
 * window ages out. Per e-mail stops guessing one account's password from many addresses; per address stops one client
 * trying many accounts. State is per process: behind a load balancer each API node enforces the limits on its own.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly clock: Clock,
    readonly limits = { perEmail: 5, perAddress: 20, windowMs: 15 * 60_000 },
  ) {}

  /** Seconds until a sign-in for this e-mail from this address may be tried again; 0 when allowed now. */
  retryAfterSeconds(email: string, address: string): number {
    const now = this.clock.now();
    const wait = (key: string, max: number) => {
      const times = this.recent(key, now);
      return times.length >= max ? Math.ceil((times[times.length - max] + this.limits.windowMs - now) / 1000) : 0;
    };
    return Math.max(wait(`e:${email}`, this.limits.perEmail), wait(`a:${address}`, this.limits.perAddress));
  }

  fail(email: string, address: string): void {
    const now = this.clock.now();
    for (const key of [`e:${email}`, `a:${address}`]) this.failures.set(key, [...this.recent(key, now), now]);
    // bounded memory: an attacker spraying addresses or e-mails leaves at most this many entries
    if (this.failures.size > 100_000) this.prune(now);
  }

  /** a successful sign-in forgets the e-mail's failures (not the address's: it may be trying other accounts) */
  succeed(email: string): void {
    this.failures.delete(`e:${email}`);
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((t) => now - t < this.limits.windowMs);
  }

  private prune(now: number) {
    for (const [key, times] of this.failures) {
      const kept = times.filter((t) => now - t < this.limits.windowMs);
      if (kept.length === 0) this.failures.delete(key);
      else this.failures.set(key, kept);
    }
  }
}
