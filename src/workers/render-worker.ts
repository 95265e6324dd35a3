import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { RenderJobRecord } from '../model/records.js';
import type { FileEntry } from '../model/records.js';
import { RenderError, type Renderer } from '@press-cloud/engine';
import { silentLogger, type Logger } from '@press-cloud/engine/logger';
import type { DomainDeps } from '../domain/context.js';
import { renderEnvironment } from '../domain/deploys.js';
import { pdfOptionsOf } from '../domain/render-jobs.js';
import { newId } from '../domain/ids.js';
import { blobKey } from '../domain/uploads.js';
import { accountPolicy, renderSlots } from '../domain/usage.js';


/** one job attempt's end, for metrics */
export interface AttemptEvent {
  job: RenderJobRecord;
  outcome: 'succeeded' | 'failed' | 'retry_scheduled' | 'canceled' | 'lost';
  code?: string;
  renderMs: number;
}

export interface WorkerOptions {
  /** lease length; a worker that stops heartbeating loses its job after this long */
  leaseMs?: number;
  /** safety-net poll for retries due and lapsed leases (the hot path is event-driven) */
  pollMs?: number;
  logger?: Logger;
  /** called after every job attempt (metrics) */
  onAttempt?: (e: AttemptEvent) => void;
}

/** Backoff before attempt n+1 (spec §5: 2 s, 8 s), with up to 25 % jitter so retries of a burst spread out. */
export function retryDelayMs(attempt: number, random = Math.random): number {
  const base = 2000 * 4 ** Math.max(0, attempt - 1);
  return Math.round(base * (1 + 0.25 * random()));
}

const SHUTDOWN = 'worker shutdown';

/** where attempt `attempt` of a job stores a transient output */
export const transientOutputKey = (jobId: string, attempt: number) => `outputs/${jobId.slice(3, 5)}/${jobId}-${attempt}.pdf`;


/**
 * Takes render jobs from the queue and runs them on the renderer, at most `renderer.capacity` at a time.
 * A new job is claimed as soon as one is enqueued or a slot frees up (queue events), not on a timer.
 */
export class RenderWorker {
  readonly workerId = `wrk_${randomBytes(6).toString('hex')}`;
  private active = new Map<string, AbortController>();
  private stopped = true;
  private pumping = false;
  private pumpAgain = false;
  private timer: NodeJS.Timeout | null = null;
  private offWork: (() => void) | null = null;
  private offTerminal: (() => void) | null = null;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly log: Logger;

  constructor(private readonly deps: DomainDeps, private readonly renderer: Renderer, private readonly opts: WorkerOptions = {}) {
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.pollMs = opts.pollMs ?? 1000;
    this.log = opts.logger ?? silentLogger;
  }

  get activeCount() {
    return this.active.size;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.offWork = this.deps.db.renderJobs.onWork(() => void this.pump());
    // A job canceled through this process is aborted at once; other nodes' cancels are seen at the next heartbeat.
    this.offTerminal = this.deps.db.renderJobs.onTerminal((id) => this.active.get(id)?.abort());
    const tick = async () => {
      try {
        await this.maintain();
      } catch (err) {
        this.log.error({ err }, 'queue maintenance failed');
      }
      if (!this.stopped) this.timer = setTimeout(tick, this.pollMs);
    };
    void tick();
  }

  /** Stops claiming; in-flight renders finish (or are released when `abort`), then it resolves. */
  async stop(opts: { abort?: boolean; graceMs?: number } = {}) {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.offWork?.();
    this.offTerminal?.();
    if (opts.abort) for (const c of this.active.values()) c.abort(SHUTDOWN);
    // Bounded: a render that does not settle keeps its lease, which lapses, and another worker retries the job.
    const deadline = Date.now() + (opts.graceMs ?? (opts.abort ? 10_000 : 90_000));
    while (this.active.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (this.active.size > 0) this.log.warn({ jobs: [...this.active.keys()] }, 'stopping with renders still running; their leases will lapse');
  }

  /** Promotes due retries and reclaims jobs of lost workers; then looks for work. */
  async maintain() {
    const now = this.deps.clock.now();
    await this.deps.db.renderJobs.reclaimExpired(now, (job) => now + retryDelayMs(job.attempt));
    await this.deps.db.renderJobs.promoteDue(now);
    await this.pump();
  }

  private async pump(): Promise<void> {
    if (this.stopped) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        while (!this.stopped && this.active.size < this.renderer.capacity) {
          const job = await this.deps.db.renderJobs.claim({
            workerId: this.workerId,
            now: this.deps.clock.now(),
            leaseMs: this.leaseMs,
            accountLimit: (accountId) => renderSlots(this.deps, accountId),
          });
          if (!job) break;
          const controller = new AbortController();
          this.active.set(job.id, controller);
          void this.run(job, controller).finally(() => {
            this.active.delete(job.id);
            void this.pump();
          });
        }
      } while (this.pumpAgain && !this.stopped);
    } catch (err) {
      this.log.error({ err }, 'claiming render jobs failed');
    } finally {
      this.pumping = false;
    }
  }

  /** Deletes an output this attempt stored but could not record (its key is this attempt's alone). */
  private async discardOutput(job: RenderJobRecord, key: string) {
    await this.deps.blobs.delete(key).catch((err) => this.log.warn({ err, jobId: job.id, key }, 'could not delete an unrecorded render output'));
  }

  private async run(job: RenderJobRecord, controller: AbortController) {
    const { deps } = this;
    const started = Date.now();
    const heartbeat = setInterval(() => {
      deps.db.renderJobs.heartbeat(job.id, this.workerId, deps.clock.now() + this.leaseMs).then(
        (mine) => mine || controller.abort(),
        (err) => this.log.warn({ err, jobId: job.id }, 'heartbeat failed'),
      );
    }, Math.max(50, Math.floor(this.leaseMs / 3)));
    const report = (outcome: 'succeeded' | 'failed' | 'retry_scheduled' | 'canceled' | 'lost', code?: string) =>
      this.opts.onAttempt?.({ job, outcome, code, renderMs: Date.now() - started });
    let writtenKey: string | null = null;
    try {
      const [payload, environment, { policy }] = await Promise.all([
        deps.db.renderJobs.payload(job.id),
        renderEnvironment(deps, job.deployId),
        accountPolicy(deps, job.accountId),
      ]);
      if (!payload) throw new RenderError('render_internal_error', 'The job payload is missing.', false);
      const files = {
        get: (path: string) => deps.db.versions.getFile(job.deployVersionId, path),
        open: async (file: FileEntry) => {
          const stream = await deps.blobs.get(blobKey(file.sha256));
          if (!stream) throw new Error(`blob ${file.sha256} missing from storage`);
          const chunks: Buffer[] = [];
          for await (const c of stream) chunks.push(c as Buffer);
          return Buffer.concat(chunks);
        },
      };
      const result = await this.renderer.render({
        jobId: job.id, accountId: job.accountId, entry: job.entry, files, payload, env: environment.env, secrets: environment.secrets,
        allowExternalNetwork: policy.allowExternalNetwork, timeoutMs: job.timeoutMs, maxOutputBytes: policy.maxRenderOutputBytes,
        pdfOptions: pdfOptionsOf(job) ?? undefined, signal: controller.signal,
      });
      const now = deps.clock.now();
      const pdfId = job.outputMode === 'managed' ? newId('pdf', now) : null;
      // One key per attempt, never shared: a worker that lost its lease and finishes late must not overwrite (or
      // delete) what the attempt that took the job over stored and recorded.
      writtenKey = pdfId ? `pdfs/${pdfId.slice(4, 6)}/${pdfId}.pdf` : transientOutputKey(job.id, job.attempt);
      await deps.blobs.put(writtenKey, Readable.from(result.pdf));
      const renderTimeMs = Math.max(1, Math.round(result.timings.totalMs));
      const ok = await deps.db.renderJobs.succeed(job.id, this.workerId, deps.clock.now(), {
        outputKey: writtenKey, bytes: result.bytes, pageCount: result.pageCount, renderTimeMs,
        diagnostics: JSON.stringify(result.diagnostics),
        outputExpiresAt: pdfId ? null : now + deps.settings.transientOutputTtlMs,
        pdf: pdfId
          ? {
              id: pdfId, accountId: job.accountId, deployId: job.deployId, deployVersionId: job.deployVersionId, renderJobId: job.id,
              businessKey: job.businessKey, fileName: job.fileName, bytes: result.bytes, pageCount: result.pageCount, outputKey: writtenKey,
              createdAt: now, deletedAt: null,
            }
          : null,
      });
      if (!ok) {
        // canceled or reclaimed while rendering: the output is not this attempt's to record
        await this.discardOutput(job, writtenKey);
        report('canceled');
        return;
      }
      // an earlier attempt whose worker died between storing and recording left its output behind: remove it
      for (let a = 1; a < job.attempt && !pdfId; a++) await this.discardOutput(job, transientOutputKey(job.id, a));
      const { pageErrors, console: consoleLines, blockedRequests, failedRequests } = result.diagnostics;
      this.log.info({
        jobId: job.id, attempt: job.attempt, pages: result.pageCount, bytes: result.bytes, timings: result.timings,
        diagnostics: { pageErrors: pageErrors.length, console: consoleLines.length, blockedRequests: blockedRequests.length, failedRequests: failedRequests.length },
      }, 'render job succeeded');
      report('succeeded');
    } catch (err) {
      if (writtenKey) await this.discardOutput(job, writtenKey);
      if (controller.signal.aborted && controller.signal.reason === SHUTDOWN) {
        // released, not failed: another worker (or this one after a restart) takes it again at once
        const now = deps.clock.now();
        const retry = job.attempt < job.maxAttempts;
        await deps.db.renderJobs.fail(job.id, this.workerId, now, { code: 'render_internal_error', message: 'The worker shut down during the render.', renderTimeMs: 0 }, retry ? now : null);
        report(retry ? 'retry_scheduled' : 'failed', 'render_internal_error');
        return;
      }
      if (controller.signal.aborted) {
        report('canceled');
        return; // canceled (the queue already says so) or the lease was lost (another worker owns the job now)
      }
      const re = err instanceof RenderError ? err : new RenderError('render_internal_error', 'Storing or preparing the render failed.', true, { cause: err });
      const retry = re.retryable && job.attempt < job.maxAttempts;
      const now = deps.clock.now();
      const moved = await deps.db.renderJobs.fail(job.id, this.workerId, now, {
        code: re.code, message: re.message, renderTimeMs: Math.max(0, Date.now() - started),
        diagnostics: re.diagnostics ? JSON.stringify(re.diagnostics) : null,
      }, retry ? now + retryDelayMs(job.attempt) : null);
      const level = re.code === 'render_internal_error' ? 'error' : 'info';
      this.log[level]({ jobId: job.id, attempt: job.attempt, code: re.code, retry, err: re.cause ?? undefined }, `render job attempt failed: ${re.message}`);
      report(moved ? (retry ? 'retry_scheduled' : 'failed') : 'lost', re.code);
    } finally {
      clearInterval(heartbeat);
    }
  }
}
