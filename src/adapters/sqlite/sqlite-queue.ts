import type Database from 'better-sqlite3';
import { EventEmitter } from 'node:events';
import type {
  JobFilter, JobPayload, JobQueue, PdfRecord, RenderJobRecord, RenderJobStatus, SucceededOutput,
} from '../../ports/job-queue.js';
import type { PageRequest } from '../../domain/pagination.js';
import { camel, camelAll, snakeKey } from './rows.js';
import { dbCache, type DbCache } from './statements.js';

const BOOLS = ['webhookPending'];
const UNFINISHED = `('queued', 'rendering', 'retry_scheduled')`;

/**
 * The job queue on SQLite. better-sqlite3 is synchronous, so each method is one atomic step; claims run inside
 * `BEGIN IMMEDIATE` so two processes sharing the file cannot claim the same job. Wake-ups are in-process events.
 */
export class SqliteQueue implements JobQueue {
  private readonly events = new EventEmitter();
  private readonly c: DbCache;

  constructor(private readonly db: Database.Database) {
    this.c = dbCache(db);
    this.events.setMaxListeners(0);
  }

  private job(sql: string, ...params: unknown[]): RenderJobRecord | null {
    return camel<RenderJobRecord>(this.c.stmt(sql).get(...params) as Record<string, unknown> | undefined, BOOLS);
  }
  private jobs(sql: string, ...params: unknown[]): RenderJobRecord[] {
    return camelAll<RenderJobRecord>(this.c.stmt(sql).all(...params), BOOLS);
  }

  /** terminal bookkeeping shared by succeed/fail/cancel: payload gone, render time metered, webhook pending */
  private terminal(job: { id: string; accountId: string }, now: number, renderTimeMs: number) {
    this.c.stmt('DELETE FROM render_job_payloads WHERE render_job_id = ?').run(job.id);
    this.meterRenderTime(job, now, renderTimeMs);
  }

  /** an attempt's render time on the account's `render_time_ms` meter (terminal or retried) */
  private meterRenderTime(job: { accountId: string }, now: number, renderTimeMs: number) {
    if (renderTimeMs <= 0) return;
    this.c.stmt(`INSERT INTO usage_records (account_id, meter, quantity, occurred_at) VALUES (?, 'render_time_ms', ?, ?)`).run(job.accountId, renderTimeMs, now);
  }

  private emitTerminal(id: string) {
    this.events.emit('terminal', id);
    this.events.emit('work'); // a slot (and maybe an account's concurrency) freed up
  }

  async enqueue(job: RenderJobRecord, payload: JobPayload) {
    const cols = Object.keys(job).map(snakeKey);
    const values = Object.values(job).map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));
    this.c.immediate(() => {
      this.c.stmt(`INSERT INTO render_jobs (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(...values);
      this.c.stmt('INSERT INTO render_job_payloads (render_job_id, mime, body) VALUES (?, ?, ?)').run(job.id, payload.mime, payload.body);
      this.c.stmt(`INSERT INTO usage_records (account_id, meter, quantity, occurred_at) VALUES (?, 'render_jobs', 1, ?)`).run(job.accountId, job.requestedAt);
    });
    this.events.emit('work');
  }

  async get(accountId: string, id: string) {
    return this.job('SELECT * FROM render_jobs WHERE account_id = ? AND id = ?', accountId, id);
  }

  async getById(id: string) {
    return this.job('SELECT * FROM render_jobs WHERE id = ?', id);
  }

  async list(accountId: string, filter: JobFilter, page: PageRequest) {
    const where = ['account_id = ?'];
    const params: unknown[] = [accountId];
    if (filter.deployId) where.push('deploy_id = ?'), params.push(filter.deployId);
    if (filter.status) where.push('status = ?'), params.push(filter.status);
    if (filter.businessKey !== undefined) where.push('business_key = ?'), params.push(filter.businessKey);
    if (page.after) {
      where.push('(requested_at < ? OR (requested_at = ? AND id < ?))');
      params.push(page.after.createdAt, page.after.createdAt, page.after.id);
    }
    return this.jobs(`SELECT * FROM render_jobs WHERE ${where.join(' AND ')} ORDER BY requested_at DESC, id DESC LIMIT ?`, ...params, page.limit + 1);
  }

  async payload(id: string) {
    const row = this.c.stmt('SELECT mime, body FROM render_job_payloads WHERE render_job_id = ?').get(id) as JobPayload | undefined;
    return row ?? null;
  }

  async claim(opts: { workerId: string; now: number; leaseMs: number; accountLimit: (accountId: string) => Promise<number | null> }) {
    // Limits are looked up before the write transaction (they may be async); the transaction re-checks the counts.
    // Accounts at their limit are filtered out in SQL, so they can never hide other accounts' jobs behind them.
    const accounts = this.c.stmt(`SELECT DISTINCT account_id FROM render_jobs WHERE status = 'queued'`).all() as { account_id: string }[];
    if (accounts.length === 0) return null;
    const limits = new Map<string, number | null>();
    for (const a of accounts) limits.set(a.account_id, await opts.accountLimit(a.account_id));
    return this.c.immediate((): RenderJobRecord | null => {
      const running = new Map<string, number>();
      for (const r of this.c.stmt(`SELECT account_id, count(*) AS n FROM render_jobs WHERE status = 'rendering' GROUP BY account_id`).all() as { account_id: string; n: number }[]) {
        running.set(r.account_id, r.n);
      }
      // an account enqueued after the lookup has no known limit yet: it waits for the next claim
      const eligible = [...limits].filter(([id, limit]) => limit === null || (running.get(id) ?? 0) < limit).map(([id]) => id);
      if (eligible.length === 0) return null;
      const next = this.c
        .stmt(`SELECT id FROM render_jobs WHERE status = 'queued' AND account_id IN (SELECT value FROM json_each(?)) ORDER BY requested_at, id LIMIT 1`)
        .get(JSON.stringify(eligible)) as { id: string } | undefined;
      if (!next) return null;
      this.c
        .stmt(
          `UPDATE render_jobs SET status = 'rendering', attempt = attempt + 1, started_at = coalesce(started_at, ?), next_attempt_at = NULL,
             lease_owner = ?, lease_expires_at = ? WHERE id = ? AND status = 'queued'`,
        )
        .run(opts.now, opts.workerId, opts.now + opts.leaseMs, next.id);
      return this.job('SELECT * FROM render_jobs WHERE id = ?', next.id);
    });
  }

  async heartbeat(id: string, workerId: string, leaseExpiresAt: number) {
    return this.c
      .stmt(`UPDATE render_jobs SET lease_expires_at = ? WHERE id = ? AND status = 'rendering' AND lease_owner = ?`)
      .run(leaseExpiresAt, id, workerId).changes === 1;
  }

  async succeed(id: string, workerId: string, now: number, out: SucceededOutput) {
    const ok = this.c.immediate(() => {
      const job = this.job(`SELECT * FROM render_jobs WHERE id = ? AND status = 'rendering' AND lease_owner = ?`, id, workerId);
      if (!job) return false;
      if (out.pdf) {
        const p = out.pdf;
        this.c
          .stmt(
            `INSERT INTO pdfs (id, account_id, deploy_id, deploy_version_id, render_job_id, business_key, file_name, bytes, page_count, blob_key, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(p.id, p.accountId, p.deployId, p.deployVersionId, p.renderJobId, p.businessKey, p.fileName, p.bytes, p.pageCount, p.blobKey, p.createdAt);
      }
      this.c
        .stmt(
          `UPDATE render_jobs SET status = 'succeeded', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL, error_code = NULL, error_message = NULL,
             output_key = ?, output_bytes = ?, output_page_count = ?, output_expires_at = ?, pdf_id = ?, render_time_ms = coalesce(render_time_ms, 0) + ?,
             webhook_pending = 1 WHERE id = ?`,
        )
        .run(now, out.pdf ? null : out.outputKey, out.bytes, out.pageCount, out.outputExpiresAt, out.pdf?.id ?? null, out.renderTimeMs, id);
      this.terminal(job, now, out.renderTimeMs);
      return true;
    });
    if (ok) this.emitTerminal(id);
    return ok;
  }

  async fail(id: string, workerId: string, now: number, error: { code: string; message: string; renderTimeMs: number }, retryAt: number | null) {
    const ok = this.c.immediate(() => {
      const job = this.job(`SELECT * FROM render_jobs WHERE id = ? AND status = 'rendering' AND lease_owner = ?`, id, workerId);
      if (!job) return false;
      if (retryAt !== null) {
        this.c
          .stmt(
            `UPDATE render_jobs SET status = 'retry_scheduled', next_attempt_at = ?, lease_owner = NULL, lease_expires_at = NULL,
               error_code = ?, error_message = ?, render_time_ms = coalesce(render_time_ms, 0) + ? WHERE id = ?`,
          )
          .run(retryAt, error.code, error.message, error.renderTimeMs, id);
        this.meterRenderTime(job, now, error.renderTimeMs);
      } else {
        this.c
          .stmt(
            `UPDATE render_jobs SET status = 'failed', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = NULL,
               error_code = ?, error_message = ?, render_time_ms = coalesce(render_time_ms, 0) + ?, webhook_pending = 1 WHERE id = ?`,
          )
          .run(now, error.code, error.message, error.renderTimeMs, id);
        this.terminal(job, now, error.renderTimeMs);
      }
      return true;
    });
    if (ok) retryAt === null ? this.emitTerminal(id) : this.events.emit('work');
    return ok;
  }

  async cancel(accountId: string, id: string, now: number) {
    let canceled = false;
    const job = this.c.immediate(() => {
      const res = this.c
        .stmt(
          `UPDATE render_jobs SET status = 'canceled', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = NULL,
             webhook_pending = 1 WHERE account_id = ? AND id = ? AND status IN ${UNFINISHED}`,
        )
        .run(now, accountId, id);
      canceled = res.changes === 1;
      if (canceled) this.terminal({ id, accountId }, now, 0);
      return this.job('SELECT * FROM render_jobs WHERE account_id = ? AND id = ?', accountId, id);
    });
    if (canceled) this.emitTerminal(id);
    return { canceled, job };
  }

  async cancelForDeploy(deployId: string, now: number) {
    const ids = this.c.immediate(() => {
      const rows = this.c.stmt(`SELECT id, account_id FROM render_jobs WHERE deploy_id = ? AND status IN ${UNFINISHED}`).all(deployId) as { id: string; account_id: string }[];
      for (const r of rows) {
        this.c
          .stmt(
            `UPDATE render_jobs SET status = 'canceled', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = NULL,
               webhook_pending = 1 WHERE id = ?`,
          )
          .run(now, r.id);
        this.terminal({ id: r.id, accountId: r.account_id }, now, 0);
      }
      return rows.map((r) => r.id);
    });
    for (const id of ids) this.emitTerminal(id);
    return ids.length;
  }

  async delete(accountId: string, id: string) {
    return this.c.immediate(() => {
      // only a terminal job's row and payload go (an unfinished job must keep its payload)
      const job = this.c.stmt(`SELECT 1 FROM render_jobs WHERE account_id = ? AND id = ? AND status IN ('succeeded', 'failed', 'canceled')`).get(accountId, id);
      if (!job) return false;
      this.c.stmt('DELETE FROM render_job_payloads WHERE render_job_id = ?').run(id);
      return this.c.stmt('DELETE FROM render_jobs WHERE id = ?').run(id).changes === 1;
    });
  }

  async promoteDue(now: number) {
    const n = this.c.stmt(`UPDATE render_jobs SET status = 'queued' WHERE status = 'retry_scheduled' AND next_attempt_at <= ?`).run(now).changes;
    if (n > 0) this.events.emit('work');
    return n;
  }

  async reclaimExpired(now: number, retryAt: (job: RenderJobRecord) => number) {
    const lapsed = this.jobs(`SELECT * FROM render_jobs WHERE status = 'rendering' AND lease_expires_at < ?`, now);
    let n = 0;
    const terminalIds: string[] = [];
    this.c.immediate(() => {
      for (const job of lapsed) {
        const message = `The worker rendering this job stopped responding (attempt ${job.attempt} of ${job.maxAttempts}).`;
        if (job.attempt < job.maxAttempts) {
          n += this.c
            .stmt(
              `UPDATE render_jobs SET status = 'retry_scheduled', next_attempt_at = ?, lease_owner = NULL, lease_expires_at = NULL,
                 error_code = 'render_internal_error', error_message = ? WHERE id = ? AND status = 'rendering' AND lease_expires_at < ?`,
            )
            .run(retryAt(job), message, job.id, now).changes;
        } else {
          const changed = this.c
            .stmt(
              `UPDATE render_jobs SET status = 'failed', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL,
                 error_code = 'render_internal_error', error_message = ?, webhook_pending = 1 WHERE id = ? AND status = 'rendering' AND lease_expires_at < ?`,
            )
            .run(now, message, job.id, now).changes;
          if (changed) {
            this.terminal(job, now, 0);
            terminalIds.push(job.id);
          }
          n += changed;
        }
      }
    });
    for (const id of terminalIds) this.emitTerminal(id);
    if (n > 0) this.events.emit('work');
    return n;
  }

  async nextWakeAt() {
    const row = this.c
      .stmt(
        `SELECT min(t) AS t FROM (
           SELECT min(next_attempt_at) AS t FROM render_jobs WHERE status = 'retry_scheduled'
           UNION ALL SELECT min(lease_expires_at) FROM render_jobs WHERE status = 'rendering')`,
      )
      .get() as { t: number | null };
    return row.t;
  }

  async markOutputDeleted(id: string, now: number) {
    this.c.stmt('UPDATE render_jobs SET output_deleted_at = coalesce(output_deleted_at, ?) WHERE id = ?').run(now, id);
  }

  async expiredOutputs(now: number, limit: number) {
    return this.jobs(
      `SELECT * FROM render_jobs WHERE output_key IS NOT NULL AND output_deleted_at IS NULL AND output_expires_at IS NOT NULL AND output_expires_at <= ? LIMIT ?`,
      now, limit,
    );
  }

  async isOutputRecorded(key: string) {
    const row = this.c
      .stmt(
        `SELECT 1 FROM render_jobs WHERE output_key = ? AND output_deleted_at IS NULL
         UNION ALL SELECT 1 FROM pdfs WHERE blob_key = ? AND deleted_at IS NULL LIMIT 1`,
      )
      .get(key, key);
    return row !== undefined;
  }

  async pendingWebhooks(limit: number) {
    return this.jobs('SELECT * FROM render_jobs WHERE webhook_pending = 1 ORDER BY finished_at LIMIT ?', limit);
  }

  async clearWebhookPending(id: string) {
    this.c.stmt('UPDATE render_jobs SET webhook_pending = 0 WHERE id = ?').run(id);
  }

  async countByStatus() {
    const counts: Record<RenderJobStatus, number> = { queued: 0, rendering: 0, retry_scheduled: 0, succeeded: 0, failed: 0, canceled: 0 };
    for (const r of this.c.stmt('SELECT status, count(*) AS n FROM render_jobs GROUP BY status').all() as { status: RenderJobStatus; n: number }[]) {
      counts[r.status] = r.n;
    }
    return counts;
  }

  async outputBytes(accountId: string) {
    const transient = this.c
      .stmt('SELECT coalesce(sum(output_bytes), 0) AS n FROM render_jobs WHERE account_id = ? AND output_key IS NOT NULL AND output_deleted_at IS NULL')
      .get(accountId) as { n: number };
    const managed = this.c.stmt('SELECT coalesce(sum(bytes), 0) AS n FROM pdfs WHERE account_id = ? AND deleted_at IS NULL').get(accountId) as { n: number };
    return { managedPdfStorageBytes: managed.n, renderOutputStorageBytes: transient.n };
  }

  pdfs: JobQueue['pdfs'] = {
    get: async (accountId, id) =>
      camel<PdfRecord>(this.c.stmt('SELECT * FROM pdfs WHERE account_id = ? AND id = ? AND deleted_at IS NULL').get(accountId, id) as Record<string, unknown> | undefined),
    list: async (accountId, filter, page) => {
      const where = ['account_id = ?', 'deleted_at IS NULL'];
      const params: unknown[] = [accountId];
      if (filter.deployId) where.push('deploy_id = ?'), params.push(filter.deployId);
      if (page.after) {
        where.push('(created_at < ? OR (created_at = ? AND id < ?))');
        params.push(page.after.createdAt, page.after.createdAt, page.after.id);
      }
      return camelAll<PdfRecord>(this.c.stmt(`SELECT * FROM pdfs WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ?`).all(...params, page.limit + 1));
    },
    markDeleted: async (accountId, id, now) =>
      this.c.stmt('UPDATE pdfs SET deleted_at = ? WHERE account_id = ? AND id = ? AND deleted_at IS NULL').run(now, accountId, id).changes === 1,
  };

  onWork(listener: () => void) {
    this.events.on('work', listener);
    return () => void this.events.off('work', listener);
  }

  onTerminal(listener: (jobId: string) => void) {
    this.events.on('terminal', listener);
    return () => void this.events.off('terminal', listener);
  }
}
