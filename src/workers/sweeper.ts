import { silentLogger, type Logger } from '@press-cloud/engine/logger';
import type { DomainDeps } from '../domain/context.js';
import { IDEMPOTENCY_TTL_MS } from '../domain/idempotency.js';
import { sweepExpiredOutputs, sweepUnrecordedOutputs } from '../domain/render-jobs.js';
import { collectGarbage, expireUploadSessions } from '../domain/uploads.js';
import { purgeExpiredSessions } from '../domain/users.js';
import { LOGIN_THROTTLE_LIMITS } from '../domain/login-throttle.js';

/**
 * The periodic housekeeping of a node: expired upload sessions, unreferenced blobs, expired and unrecorded outputs,
 * old idempotency keys, ended sign-in sessions, and a webhook pass. The rules are the domain's; this runs them on a timer, one pass at a time.
 * Safe on several nodes at once: every step is a conditional update or an idempotent delete.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;

  constructor(
    private readonly deps: DomainDeps,
    private readonly opts: { intervalMs: number; webhooks: { runOnce(): Promise<void> }; logger?: Logger },
  ) {}

  /** one full pass (tests call this instead of waiting for the interval) */
  async sweep(): Promise<void> {
    const { deps } = this;
    await expireUploadSessions(deps);
    await collectGarbage(deps);
    await sweepExpiredOutputs(deps);
    await sweepUnrecordedOutputs(deps);
    await deps.db.idempotency.purge(deps.clock.now() - IDEMPOTENCY_TTL_MS);
    await purgeExpiredSessions(deps);
    await deps.db.loginFailures.purge(deps.clock.now() - LOGIN_THROTTLE_LIMITS.windowMs);
    await this.opts.webhooks.runOnce();
  }

  start() {
    if (this.timer) return;
    const log = this.opts.logger ?? silentLogger;
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep().catch((err) => log.error({ err }, 'sweep failed')).finally(() => (this.sweeping = null));
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  /** stops the timer and waits for a pass in progress */
  async stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sweeping;
  }
}
