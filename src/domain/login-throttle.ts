import type { LoginFailureRepository } from '../ports/people.js';
import type { Clock } from './clock.js';

export const LOGIN_THROTTLE_LIMITS = { perEmail: 5, perAddress: 20, windowMs: 15 * 60_000 } as const;

/**
 * Failed sign-ins counted per e-mail address and per client address over a sliding window. Past the limit, sign-in
 * is refused without checking the password (429 login_throttled with Retry-After) until the oldest failure in the
 * window ages out. Per e-mail stops guessing one account's password from many addresses; per address stops one client
 * trying many accounts. The failures live in the metadata store, so every API node on one database counts the same
 * ones (a client spreading its guesses over the nodes behind a load balancer gains nothing).
 */
export class LoginThrottle {
  constructor(
    private readonly failures: LoginFailureRepository,
    private readonly clock: Clock,
    readonly limits: { perEmail: number; perAddress: number; windowMs: number } = LOGIN_THROTTLE_LIMITS,
  ) {}

  /** Seconds until a sign-in for this e-mail from this address may be tried again; 0 when allowed now. */
  async retryAfterSeconds(email: string, address: string): Promise<number> {
    const now = this.clock.now();
    const wait = async (key: string, max: number) => {
      // newest first: the max-th newest failure is the one that must age out
      const times = await this.failures.recent(key, now - this.limits.windowMs + 1, max);
      return times.length >= max ? Math.ceil((times[max - 1] + this.limits.windowMs - now) / 1000) : 0;
    };
    return Math.max(await wait(`e:${email}`, this.limits.perEmail), await wait(`a:${address}`, this.limits.perAddress));
  }

  fail(email: string, address: string): Promise<void> {
    return this.failures.record([`e:${email}`, `a:${address}`], this.clock.now());
  }

  /** a successful sign-in forgets the e-mail's failures (not the address's: it may be trying other accounts) */
  succeed(email: string): Promise<void> {
    return this.failures.forget(`e:${email}`);
  }
}
