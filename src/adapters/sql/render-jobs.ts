import { EventEmitter } from 'node:events';
import {
  RENDER_JOB_STATUSES, TERMINAL_STATUSES, UNFINISHED_STATUSES, type JobFilter, type JobPayload, type RenderJobRecord, type RenderJobStatus,
  type AttemptError, type SucceededOutput,
} from '../../model/records.js';
import type { PageRequest } from '../../model/pagination.js';
import type { CountQuota, PdfRepository, RenderJobRepository } from '../../ports/database.js';
import { decode, inList, pdfs, renderJobs } from './catalogue.js';
import type { ClaimRequest, Dialect, WakeKind } from './dialect.js';
import type { SqlExecutor } from './executor.js';
import { every, first, insertRecord, pageOf } from './query.js';
import { admitUnit } from './usage.js';

const quoted = (list: readonly string[]) => `(${list.map((s) => `'${s}'`).join(', ')})`;
/** SQL lists of the status groups, from the one status list of model/records */
export const UNFINISHED = quoted(UNFINISHED_STATUSES);
export const TERMINAL = quoted(TERMINAL_STATUSES);

/** queued → rendering, for a claim; parameters: now, workerId, leaseExpiresAt */
export const CLAIM_SET = `status = 'rendering', attempt = attempt + 1, started_at = coalesce(started_at, ?), next_attempt_at = NULL,
  lease_owner = ?, lease_expires_at = ?`;
export const claimParams = (req: { now: number; workerId: string; leaseMs: number }) => [req.now, req.workerId, req.now + req.leaseMs];

/**
 * A terminal transition's webhook_pending: whether the job's deploy has its webhook on (and is not deleted) as the
 * transition reads it, so a job of a deploy without one leaves nothing for the sender to read or clear. The sender
 * checks the deploy again when it creates the event and at every attempt (domain/webhooks).
 */
const WEBHOOK_DUE = `EXISTS (SELECT 1 FROM deploys d WHERE d.id = render_jobs.deploy_id AND d.deleted_at IS NULL AND d.webhook_enabled AND d.webhook_url IS NOT NULL)`;

const cancelSet = (webhook: boolean) =>
  `status = 'canceled', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = NULL, webhook_pending = ${webhook ? WEBHOOK_DUE : 'false'}`;
const CANCEL_SET = cancelSet(true);
const pending = (row: { webhook_pending?: unknown } | undefined) => row?.webhook_pending === true || row?.webhook_pending === 1;

/**
 * The render queue, written once: the render_jobs table is the queue and every state change is a conditional update
 * (expected status and, for a worker, its lease) inside one transaction. The dialect supplies the claim, the row-lock
 * clauses and cross-process wake-ups; events of this process are emitted here after commit.
 */
export class SqlRenderJobs implements RenderJobRepository {
  private readonly events = new EventEmitter();

  constructor(private readonly x: SqlExecutor, private readonly dialect: Dialect) {
    this.events.setMaxListeners(0);
    dialect.wakeups.subscribe((kind, id) => {
      if ((kind === 'terminal' || kind === 'ended') && id !== null) this.emitTerminal(id, kind === 'terminal');
      else this.events.emit('work');
    });
  }

  private emitTerminal(id: string, webhookPending: boolean) {
    this.events.emit('terminal', id, webhookPending);
    this.events.emit('work'); // a slot (and maybe an account's concurrency) freed up
  }

  private publish(t: SqlExecutor, kind: WakeKind, ids: string[]) {
    return ids.length === 0 ? Promise.resolve() : this.dialect.wakeups.publish(t, kind, ids);
  }

  /** jobs that ended, to the other processes; whether each left a webhook pending rides in the kind */
  private async publishEnded(t: SqlExecutor, jobs: { id: string; webhookPending: boolean }[]) {
    await this.publish(t, 'terminal', jobs.filter((j) => j.webhookPending).map((j) => j.id));
    await this.publish(t, 'ended', jobs.filter((j) => !j.webhookPending).map((j) => j.id));
  }

  /** terminal bookkeeping shared by succeed/fail/cancel/reclaim: payload gone, render time metered */
  private async terminal(t: SqlExecutor, job: { id: string; accountId: string }, now: number, renderTimeMs: number) {
    await t.run('DELETE FROM render_job_payloads WHERE render_job_id = ?', [job.id]);
    await this.meterRenderTime(t, job, now, renderTimeMs);
  }

  /** an attempt's render time on the account's `render_time_ms` meter (terminal or retried) */
  private async meterRenderTime(t: SqlExecutor, job: { accountId: string }, now: number, renderTimeMs: number) {
    if (renderTimeMs <= 0) return;
    await t.run(`INSERT INTO usage_records (account_id, meter, quantity, occurred_at) VALUES (?, 'render_time_ms', ?, ?)`, [job.accountId, renderTimeMs, now]);
  }

  async enqueue(job: RenderJobRecord, payload: JobPayload, quota?: CountQuota) {
    await this.x.tx(async (t) => {
      await admitUnit(t, this.dialect, job.accountId, 'render_jobs', quota);
      await insertRecord(t, renderJobs, job);
      await t.run('INSERT INTO render_job_payloads (render_job_id, mime, body) VALUES (?, ?, ?)', [job.id, payload.mime, payload.body]);
      await t.run(`INSERT INTO usage_records (account_id, meter, quantity, occurred_at) VALUES (?, 'render_jobs', 1, ?)`, [job.accountId, job.requestedAt]);
      await this.publish(t, 'work', [job.id]);
    });
    this.events.emit('work');
  }

  get(accountId: string, id: string) {
    return first(this.x, renderJobs, 'SELECT * FROM render_jobs WHERE account_id = ? AND id = ?', [accountId, id]);
  }

  getById(id: string) {
    return first(this.x, renderJobs, 'SELECT * FROM render_jobs WHERE id = ?', [id]);
  }

  list(accountId: string, filter: JobFilter, page: PageRequest) {
    let where = 'account_id = ?';
    const params: unknown[] = [accountId];
    if (filter.deployId) (where += ' AND deploy_id = ?'), params.push(filter.deployId);
    if (filter.status) (where += ' AND status = ?'), params.push(filter.status);
    if (filter.businessKey !== undefined) (where += ' AND business_key = ?'), params.push(filter.businessKey);
    // a job's place in its list is its requestedAt (the cursor's createdAt)
    return pageOf(this.x, renderJobs, where, params, page, 'requested_at');
  }

  async payload(id: string): Promise<JobPayload | null> {
    const row = await this.x.one('SELECT mime, body FROM render_job_payloads WHERE render_job_id = ?', [id]);
    return row ? { mime: row.mime as string, body: row.body as Buffer } : null;
  }

  async claim(req: ClaimRequest) {
    return decode(renderJobs, await this.dialect.claim(this.x, req));
  }

  async heartbeat(id: string, workerId: string, leaseExpiresAt: number) {
    return (await this.x.run(`UPDATE render_jobs SET lease_expires_at = ? WHERE id = ? AND status = 'rendering' AND lease_owner = ?`, [leaseExpiresAt, id, workerId])) === 1;
  }

  /** the job, row-locked, if it is still rendering under this worker's lease; its deploy's webhook gate is held */
  private async leased(t: SqlExecutor, id: string, workerId: string) {
    const row = await t.one(
      `SELECT id, account_id${this.dialect.webhookGate.shared} FROM render_jobs WHERE id = ? AND status = 'rendering' AND lease_owner = ?${this.dialect.forUpdate}`,
      [id, workerId],
    );
    return row ? { id: row.id as string, accountId: row.account_id as string } : null;
  }

  async succeed(id: string, workerId: string, now: number, out: SucceededOutput) {
    const done = await this.x.tx(async (t) => {
      const job = await this.leased(t, id, workerId);
      if (!job) return null;
      if (out.pdf) await insertRecord(t, pdfs, out.pdf);
      const row = await t.one(
        `UPDATE render_jobs SET status = 'succeeded', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL, error_code = NULL, error_message = NULL,
           output_key = ?, output_bytes = ?, output_page_count = ?, output_expires_at = ?, pdf_id = ?, render_time_ms = coalesce(render_time_ms, 0) + ?,
           diagnostics = ?, webhook_pending = ${WEBHOOK_DUE} WHERE id = ? RETURNING webhook_pending`,
        [now, out.pdf ? null : out.outputKey, out.bytes, out.pageCount, out.outputExpiresAt, out.pdf?.id ?? null, out.renderTimeMs, out.diagnostics ?? null, id],
      );
      await this.terminal(t, job, now, out.renderTimeMs);
      const ended = { id, webhookPending: pending(row) };
      await this.publishEnded(t, [ended]);
      return ended;
    });
    if (done) this.emitTerminal(id, done.webhookPending);
    return done !== null;
  }

  async fail(id: string, workerId: string, now: number, error: AttemptError, retryAt: number | null) {
    const done = await this.x.tx(async (t) => {
      const job = await this.leased(t, id, workerId);
      if (!job) return null;
      if (retryAt !== null) {
        await t.run(
          `UPDATE render_jobs SET status = 'retry_scheduled', next_attempt_at = ?, lease_owner = NULL, lease_expires_at = NULL,
             error_code = ?, error_message = ?, diagnostics = ?, render_time_ms = coalesce(render_time_ms, 0) + ? WHERE id = ?`,
          [retryAt, error.code, error.message, error.diagnostics ?? null, error.renderTimeMs, id],
        );
        await this.meterRenderTime(t, job, now, error.renderTimeMs);
        await this.publish(t, 'work', [id]); // the account's slot is free again
        return { webhookPending: false };
      }
      const row = await t.one(
        `UPDATE render_jobs SET status = 'failed', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = NULL,
           error_code = ?, error_message = ?, diagnostics = ?, render_time_ms = coalesce(render_time_ms, 0) + ?, webhook_pending = ${WEBHOOK_DUE}
         WHERE id = ? RETURNING webhook_pending`,
        [now, error.code, error.message, error.diagnostics ?? null, error.renderTimeMs, id],
      );
      await this.terminal(t, job, now, error.renderTimeMs);
      const ended = { id, webhookPending: pending(row) };
      await this.publishEnded(t, [ended]);
      return ended;
    });
    if (done) retryAt === null ? this.emitTerminal(id, done.webhookPending) : this.events.emit('work');
    return done !== null;
  }

  async cancel(accountId: string, id: string, now: number) {
    const { canceled, job } = await this.x.tx(async (t) => {
      const { shared } = this.dialect.webhookGate;
      if (shared) await t.one(`SELECT id${shared} FROM render_jobs WHERE account_id = ? AND id = ? AND status IN ${UNFINISHED}`, [accountId, id]);
      const canceled = (await t.run(`UPDATE render_jobs SET ${CANCEL_SET} WHERE account_id = ? AND id = ? AND status IN ${UNFINISHED}`, [now, accountId, id])) === 1;
      const job = await first(t, renderJobs, 'SELECT * FROM render_jobs WHERE account_id = ? AND id = ?', [accountId, id]);
      if (canceled) {
        await this.terminal(t, { id, accountId }, now, 0);
        await this.publishEnded(t, [{ id, webhookPending: job?.webhookPending ?? false }]);
      }
      return { canceled, job };
    });
    if (canceled) this.emitTerminal(id, job?.webhookPending ?? false);
    return { canceled, job };
  }

  cancelForDeploy(deployId: string, now: number) {
    return this.cancelAll('deploy_id', deployId, now, true);
  }

  cancelForAccount(accountId: string, now: number) {
    // no webhooks: the deploys they would go to are deleted right after
    return this.cancelAll('account_id', accountId, now, false);
  }

  /** (no webhook gate: the deploy is deleted first, and a deleted deploy never gets its webhook back) */
  private async cancelAll(column: 'deploy_id' | 'account_id', value: string, now: number, webhook: boolean) {
    const rows = await this.x.tx(async (t) => {
      const rows = await t.all(`UPDATE render_jobs SET ${cancelSet(webhook)} WHERE ${column} = ? AND status IN ${UNFINISHED} RETURNING id, webhook_pending`, [now, value]);
      const ids = rows.map((r) => r.id as string);
      if (ids.length > 0) await t.run(`DELETE FROM render_job_payloads WHERE render_job_id IN ${inList(ids.length)}`, ids);
      await this.publishEnded(t, rows.map((r) => ({ id: r.id as string, webhookPending: pending(r) })));
      return rows;
    });
    for (const r of rows) this.emitTerminal(r.id as string, pending(r));
    return rows.length;
  }

  delete(accountId: string, id: string) {
    return this.x.tx(async (t) => {
      // only a terminal job's row and payload go (an unfinished job must keep its payload)
      if (!(await t.one(`SELECT 1 AS n FROM render_jobs WHERE account_id = ? AND id = ? AND status IN ${TERMINAL}${this.dialect.forUpdate}`, [accountId, id]))) return false;
      await t.run('DELETE FROM render_job_payloads WHERE render_job_id = ?', [id]);
      return (await t.run('DELETE FROM render_jobs WHERE id = ?', [id])) === 1;
    });
  }

  async promoteDue(now: number) {
    // one autocommit statement (it runs on every node's safety-net poll); the wake-up goes out only if rows moved
    const rows = await this.x.all(`UPDATE render_jobs SET status = 'queued' WHERE status = 'retry_scheduled' AND next_attempt_at <= ? RETURNING id`, [now]);
    if (rows.length > 0) {
      await this.publish(this.x, 'work', [rows[0].id as string]);
      this.events.emit('work');
    }
    return rows.length;
  }

  async reclaimExpired(now: number, retryAt: (job: RenderJobRecord) => number) {
    // cheap check first: this runs on every node's poll and almost always finds nothing
    if (!(await this.x.one(`SELECT 1 AS n FROM render_jobs WHERE status = 'rendering' AND lease_expires_at < ? LIMIT 1`, [now]))) return 0;
    const { n, ended } = await this.x.tx(async (t) => {
      // The webhook gate of each job this pass may end, before any row lock: every other path takes the gate first
      // and its job's row second, and taking them the other way round here could deadlock with a cancel and a
      // webhook settings change at the same instant. A job whose lease lapses between the two reads waits for the
      // next pass, when its gate comes first too.
      const { shared } = this.dialect.webhookGate;
      const gated = shared
        ? new Set((await t.all(`SELECT id${shared} FROM render_jobs WHERE status = 'rendering' AND lease_expires_at < ? AND attempt >= max_attempts ORDER BY id`, [now])).map((r) => r.id as string))
        : null;
      // SKIP LOCKED: another node reclaiming (or a worker heartbeating) at the same moment is left alone
      const lapsed = (await every(t, renderJobs, `SELECT * FROM render_jobs WHERE status = 'rendering' AND lease_expires_at < ? ORDER BY id${this.dialect.skipLocked}`, [now]))
        .filter((j) => j.attempt < j.maxAttempts || !gated || gated.has(j.id));
      const ended: { id: string; webhookPending: boolean }[] = [];
      let n = 0;
      for (const job of lapsed) {
        const message = `The worker rendering this job stopped responding (attempt ${job.attempt} of ${job.maxAttempts}).`;
        const still = `id = ? AND status = 'rendering' AND lease_expires_at < ?`;
        if (job.attempt < job.maxAttempts) {
          n += await t.run(
            `UPDATE render_jobs SET status = 'retry_scheduled', next_attempt_at = ?, lease_owner = NULL, lease_expires_at = NULL,
               error_code = 'render_internal_error', error_message = ? WHERE ${still}`,
            [retryAt(job), message, job.id, now],
          );
        } else {
          const row = await t.one(
            `UPDATE render_jobs SET status = 'failed', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL,
               error_code = 'render_internal_error', error_message = ?, webhook_pending = ${WEBHOOK_DUE} WHERE ${still} RETURNING webhook_pending`,
            [now, message, job.id, now],
          );
          if (row) {
            await this.terminal(t, job, now, 0);
            ended.push({ id: job.id, webhookPending: pending(row) });
            n++;
          }
        }
      }
      await this.publishEnded(t, ended);
      return { n, ended };
    });
    for (const j of ended) this.emitTerminal(j.id, j.webhookPending);
    if (n > 0) this.events.emit('work');
    return n;
  }

  async nextWakeAt() {
    const row = await this.x.one(
      `SELECT min(t) AS t FROM (
         SELECT min(next_attempt_at) AS t FROM render_jobs WHERE status = 'retry_scheduled'
         UNION ALL SELECT min(lease_expires_at) AS t FROM render_jobs WHERE status = 'rendering') AS wake`,
    );
    return row?.t === null || row?.t === undefined ? null : Number(row.t);
  }

  async markOutputDeleted(id: string, now: number) {
    await this.x.run('UPDATE render_jobs SET output_deleted_at = coalesce(output_deleted_at, ?) WHERE id = ?', [now, id]);
  }

  expiredOutputs(now: number, limit: number) {
    return every(
      this.x, renderJobs,
      `SELECT * FROM render_jobs WHERE output_key IS NOT NULL AND output_deleted_at IS NULL AND output_expires_at IS NOT NULL AND output_expires_at <= ?
       ORDER BY output_expires_at, id LIMIT ?`,
      [now, limit],
    );
  }

  async isOutputRecorded(key: string) {
    const row = await this.x.one(
      `SELECT 1 AS n FROM render_jobs WHERE output_key = ? AND output_deleted_at IS NULL
       UNION ALL SELECT 1 AS n FROM pdfs WHERE blob_key = ? AND deleted_at IS NULL LIMIT 1`,
      [key, key],
    );
    return row !== undefined;
  }

  pendingWebhooks(limit: number) {
    return every(this.x, renderJobs, 'SELECT * FROM render_jobs WHERE webhook_pending = true ORDER BY finished_at, id LIMIT ?', [limit]);
  }

  async clearWebhookPending(id: string) {
    await this.x.run('UPDATE render_jobs SET webhook_pending = false WHERE id = ?', [id]);
  }

  async countByStatus() {
    const counts = Object.fromEntries(RENDER_JOB_STATUSES.map((s) => [s, 0])) as Record<RenderJobStatus, number>;
    for (const r of await this.x.all('SELECT status, count(*) AS n FROM render_jobs GROUP BY status')) counts[r.status as RenderJobStatus] = Number(r.n);
    return counts;
  }

  async outputBytes(accountId: string) {
    const row = await this.x.one(
      `SELECT
         (SELECT coalesce(sum(output_bytes), 0) FROM render_jobs WHERE account_id = ? AND output_key IS NOT NULL AND output_deleted_at IS NULL) AS transient,
         (SELECT coalesce(sum(bytes), 0) FROM pdfs WHERE account_id = ? AND deleted_at IS NULL) AS managed`,
      [accountId, accountId],
    );
    return { managedPdfStorageBytes: Number(row!.managed), renderOutputStorageBytes: Number(row!.transient) };
  }

  onWork(listener: () => void) {
    this.events.on('work', listener);
    return () => void this.events.off('work', listener);
  }

  onTerminal(listener: (jobId: string, webhookPending: boolean) => void) {
    this.events.on('terminal', listener);
    return () => void this.events.off('terminal', listener);
  }
}

export function pdfRepository(x: SqlExecutor): PdfRepository {
  return {
    get: (accountId, id) => first(x, pdfs, 'SELECT * FROM pdfs WHERE account_id = ? AND id = ? AND deleted_at IS NULL', [accountId, id]),
    list: (accountId, filter, page) =>
      filter.deployId
        ? pageOf(x, pdfs, 'account_id = ? AND deleted_at IS NULL AND deploy_id = ?', [accountId, filter.deployId], page)
        : pageOf(x, pdfs, 'account_id = ? AND deleted_at IS NULL', [accountId], page),
    markDeleted: async (accountId, id, now) =>
      (await x.run('UPDATE pdfs SET deleted_at = ? WHERE account_id = ? AND id = ? AND deleted_at IS NULL', [now, accountId, id])) === 1,
    storedBetween: async (accountId, from, to) =>
      (await every(x, pdfs, 'SELECT bytes, created_at, deleted_at FROM pdfs WHERE account_id = ? AND created_at < ? AND (deleted_at IS NULL OR deleted_at > ?)', [
        accountId, to, from,
      ])).map((p) => ({ bytes: p.bytes, createdAt: p.createdAt, deletedAt: p.deletedAt })),
  };
}
