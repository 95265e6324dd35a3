import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { PageRequest } from '../../domain/pagination.js';
import type {
  JobFilter, JobPayload, JobQueue, PdfRecord, RenderJobRecord, RenderJobStatus, SucceededOutput,
} from '../../ports/job-queue.js';
import type { PgDatabase, Queryable } from './pg-database.js';
import { JOBS_CHANNEL } from './pg-notify.js';
import { afterClause, camel, camelAll, insertSql, Params } from './rows.js';

const UNFINISHED = `('queued', 'rendering', 'retry_scheduled')`;
const TERMINAL = `('succeeded', 'failed', 'canceled')`;
/** accounts whose concurrency limit is looked up per claim round (the oldest queued jobs' accounts) */
const CANDIDATE_ACCOUNTS = 50;
/**
 * First key of the two-key advisory lock taken per account while counting its running jobs and claiming one
 * ("rj" in ASCII); the second key is hashtext(account_id). Two-key locks never collide with the one-key migration lock.
 */
const ACCOUNT_LOCK_CLASS = 0x726a;

type NotifyKind = 'work' | 'terminal';

/**
 * The job queue on PostgreSQL. The render_jobs table is the queue: claims use `FOR UPDATE SKIP LOCKED` so any number
 * of workers on any number of nodes take different jobs without waiting on each other; every later transition is
 * conditional on status and lease owner. Wake-ups cross nodes through LISTEN/NOTIFY on `press_jobs`: enqueue,
 * promotions and terminal transitions NOTIFY `<kind>:<jobId>:<origin>` inside their transaction (so it is sent only
 * on commit), and every process turns those into `onWork` / `onTerminal` calls. Events from this process are emitted
 * at once, and their echo (same origin) is ignored.
 */
export class PgQueue implements JobQueue {
  private readonly events = new EventEmitter();
  /** tags this instance's notifications so it can skip its own echo */
  private readonly origin = randomBytes(6).toString('hex');

  constructor(private readonly db: PgDatabase) {
    this.events.setMaxListeners(0);
    db.notifier.subscribe((payload) => this.onNotification(payload));
  }

  private onNotification(payload: string | null) {
    if (payload === null) {
      // the LISTEN connection came back: anything may have happened meanwhile
      this.events.emit('work');
      return;
    }
    const first = payload.indexOf(':');
    const last = payload.lastIndexOf(':');
    if (first < 0 || last <= first) return;
    if (payload.slice(last + 1) === this.origin) return;
    const kind = payload.slice(0, first);
    if (kind === 'terminal') this.emitTerminal(payload.slice(first + 1, last));
    else if (kind === 'work') this.events.emit('work');
  }

  private emitTerminal(id: string) {
    this.events.emit('terminal', id);
    this.events.emit('work'); // a slot (and maybe an account's concurrency) freed up
  }

  /** NOTIFY inside the caller's transaction: delivered to every listener when (and only if) it commits */
  private async notify(c: Queryable, kind: NotifyKind, ids: string[]) {
    if (ids.length === 0) return;
    await c.query(`SELECT pg_notify($1, $2::text || ':' || id || ':' || $3::text) FROM unnest($4::text[]) AS id`, [JOBS_CHANNEL, kind, this.origin, ids]);
  }

  private async job(sql: string, params: unknown[], c: Queryable = this.db): Promise<RenderJobRecord | null> {
    const { rows } = await c.query(sql, params);
    return camel<RenderJobRecord>(rows[0]);
  }
  private async jobs(sql: string, params: unknown[], c: Queryable = this.db): Promise<RenderJobRecord[]> {
    const { rows } = await c.query(sql, params);
    return camelAll<RenderJobRecord>(rows);
  }

  /** terminal bookkeeping shared by succeed/fail/cancel/reclaim: payload gone, render time metered */
  private async terminal(c: Queryable, job: { id: string; accountId: string }, now: number, renderTimeMs: number) {
    await c.query('DELETE FROM render_job_payloads WHERE render_job_id = $1', [job.id]);
    await this.meterRenderTime(c, job, now, renderTimeMs);
  }

  /** an attempt's render time on the account's `render_time_ms` meter (terminal or retried) */
  private async meterRenderTime(c: Queryable, job: { accountId: string }, now: number, renderTimeMs: number) {
    if (renderTimeMs <= 0) return;
    await c.query(`INSERT INTO usage_records (account_id, meter, quantity, occurred_at) VALUES ($1, 'render_time_ms', $2, $3)`, [job.accountId, renderTimeMs, now]);
  }

  async enqueue(job: RenderJobRecord, payload: JobPayload) {
    await this.db.tx(async (c) => {
      const ins = insertSql('render_jobs', job as unknown as Record<string, unknown>);
      await c.query(ins.sql, ins.params);
      await c.query('INSERT INTO render_job_payloads (render_job_id, mime, body) VALUES ($1, $2, $3)', [job.id, payload.mime, payload.body]);
      await c.query(`INSERT INTO usage_records (account_id, meter, quantity, occurred_at) VALUES ($1, 'render_jobs', 1, $2)`, [job.accountId, job.requestedAt]);
      await this.notify(c, 'work', [job.id]);
    });
    this.events.emit('work');
  }

  async get(accountId: string, id: string) {
    return this.job('SELECT * FROM render_jobs WHERE account_id = $1 AND id = $2', [accountId, id]);
  }

  async getById(id: string) {
    return this.job('SELECT * FROM render_jobs WHERE id = $1', [id]);
  }

  async list(accountId: string, filter: JobFilter, page: PageRequest) {
    const q = new Params();
    let where = `account_id = ${q.p(accountId)}`;
    if (filter.deployId) where += ` AND deploy_id = ${q.p(filter.deployId)}`;
    if (filter.status) where += ` AND status = ${q.p(filter.status)}`;
    if (filter.businessKey !== undefined) where += ` AND business_key = ${q.p(filter.businessKey)}`;
    where += afterClause(q, page.after, 'requested_at');
    return this.jobs(`SELECT * FROM render_jobs WHERE ${where} ORDER BY requested_at DESC, id DESC LIMIT ${q.p(page.limit + 1)}`, q.values);
  }

  async payload(id: string) {
    const { rows } = await this.db.query<JobPayload>('SELECT mime, body FROM render_job_payloads WHERE render_job_id = $1', [id]);
    return rows[0] ?? null;
  }

  /**
   * Claims the oldest queued job whose account is under its concurrency limit.
   *
   * Limits come from an async callback, so they are looked up first for the accounts of the oldest queued jobs. When
   * none of those accounts has a limit (the self-hosted default) the claim is one statement:
   * `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING *`. Otherwise the oldest job is locked
   * with SKIP LOCKED in a transaction and, if its account has a limit, `pg_advisory_xact_lock(class, hashtext(account))`
   * serialises "count the account's rendering jobs, then claim" across every node: the count runs after the previous
   * holder committed, so it sees that holder's claim (READ COMMITTED takes a new snapshot per statement). A holder of
   * that lock waits for nothing else, so the row-lock → advisory-lock order cannot deadlock. An account found full is
   * skipped and the next round looks at the remaining accounts.
   */
  async claim(opts: { workerId: string; now: number; leaseMs: number; accountLimit: (accountId: string) => Promise<number | null> }) {
    const limits = new Map<string, number | null>();
    const full: string[] = [];
    const set = `status = 'rendering', attempt = attempt + 1, started_at = coalesce(started_at, $1), next_attempt_at = NULL, lease_owner = $2, lease_expires_at = $3`;
    const claimParams = [opts.now, opts.workerId, opts.now + opts.leaseMs];
    for (;;) {
      const { rows } = await this.db.query<{ account_id: string }>(
        `SELECT account_id FROM render_jobs WHERE status = 'queued' AND NOT (account_id = ANY($1::text[]))
         GROUP BY account_id ORDER BY min(requested_at), account_id LIMIT ${CANDIDATE_ACCOUNTS}`,
        [full],
      );
      if (rows.length === 0) return null;
      const accounts = rows.map((r) => r.account_id);
      for (const a of accounts) if (!limits.has(a)) limits.set(a, await opts.accountLimit(a));

      const limited = accounts.filter((a) => limits.get(a) !== null);
      if (limited.length === 0) {
        return this.job(
          `UPDATE render_jobs SET ${set}
           WHERE id = (SELECT id FROM render_jobs WHERE status = 'queued' AND account_id = ANY($4::text[]) ORDER BY requested_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING *`,
          [...claimParams, accounts],
        );
      }

      // A snapshot count rules out accounts that are plainly full without taking their locks (it is re-checked under
      // the lock below; an account it wrongly shows full is retried at the next wake-up, as a slot frees up).
      const running = await this.db.query<{ account_id: string; n: number }>(
        `SELECT account_id, count(*) AS n FROM render_jobs WHERE status = 'rendering' AND account_id = ANY($1::text[]) GROUP BY account_id`,
        [limited],
      );
      for (const r of running.rows) if (r.n >= limits.get(r.account_id)!) full.push(r.account_id);
      const eligible = accounts.filter((a) => !full.includes(a));
      if (eligible.length === 0) continue;

      const outcome = await this.db.tx(async (c): Promise<{ job: RenderJobRecord | null } | { full: string }> => {
        const pick = (await c.query(
          `SELECT id, account_id FROM render_jobs WHERE status = 'queued' AND account_id = ANY($1::text[])
           ORDER BY requested_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
          [eligible],
        )).rows[0] as { id: string; account_id: string } | undefined;
        if (!pick) return { job: null }; // every candidate is being claimed by someone else right now
        const limit = limits.get(pick.account_id) ?? null;
        if (limit !== null) {
          await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ACCOUNT_LOCK_CLASS, pick.account_id]);
          const running = (await c.query(`SELECT count(*) AS n FROM render_jobs WHERE account_id = $1 AND status = 'rendering'`, [pick.account_id])).rows[0].n as number;
          if (running >= limit) return { full: pick.account_id };
        }
        return { job: await this.job(`UPDATE render_jobs SET ${set} WHERE id = $4 AND status = 'queued' RETURNING *`, [...claimParams, pick.id], c) };
      });
      if ('job' in outcome) return outcome.job;
      full.push(outcome.full);
    }
  }

  async heartbeat(id: string, workerId: string, leaseExpiresAt: number) {
    const res = await this.db.query(`UPDATE render_jobs SET lease_expires_at = $1 WHERE id = $2 AND status = 'rendering' AND lease_owner = $3`, [leaseExpiresAt, id, workerId]);
    return res.rowCount === 1;
  }

  /** the job, row-locked, if it is still rendering under this worker's lease */
  private async leased(c: Queryable, id: string, workerId: string) {
    const { rows } = await c.query(`SELECT id, account_id FROM render_jobs WHERE id = $1 AND status = 'rendering' AND lease_owner = $2 FOR UPDATE`, [id, workerId]);
    return rows[0] ? { id: rows[0].id as string, accountId: rows[0].account_id as string } : null;
  }

  async succeed(id: string, workerId: string, now: number, out: SucceededOutput) {
    const ok = await this.db.tx(async (c) => {
      const job = await this.leased(c, id, workerId);
      if (!job) return false;
      if (out.pdf) {
        const ins = insertSql('pdfs', { ...out.pdf });
        await c.query(ins.sql, ins.params);
      }
      await c.query(
        `UPDATE render_jobs SET status = 'succeeded', finished_at = $1, lease_owner = NULL, lease_expires_at = NULL, error_code = NULL, error_message = NULL,
           output_key = $2, output_bytes = $3, output_page_count = $4, output_expires_at = $5, pdf_id = $6, render_time_ms = coalesce(render_time_ms, 0) + $7,
           webhook_pending = true WHERE id = $8`,
        [now, out.pdf ? null : out.outputKey, out.bytes, out.pageCount, out.outputExpiresAt, out.pdf?.id ?? null, out.renderTimeMs, id],
      );
      await this.terminal(c, job, now, out.renderTimeMs);
      await this.notify(c, 'terminal', [id]);
      return true;
    });
    if (ok) this.emitTerminal(id);
    return ok;
  }

  async fail(id: string, workerId: string, now: number, error: { code: string; message: string; renderTimeMs: number }, retryAt: number | null) {
    const ok = await this.db.tx(async (c) => {
      const job = await this.leased(c, id, workerId);
      if (!job) return false;
      if (retryAt !== null) {
        await c.query(
          `UPDATE render_jobs SET status = 'retry_scheduled', next_attempt_at = $1, lease_owner = NULL, lease_expires_at = NULL,
             error_code = $2, error_message = $3, render_time_ms = coalesce(render_time_ms, 0) + $4 WHERE id = $5`,
          [retryAt, error.code, error.message, error.renderTimeMs, id],
        );
        await this.meterRenderTime(c, job, now, error.renderTimeMs);
        await this.notify(c, 'work', [id]); // the account's slot is free again
      } else {
        await c.query(
          `UPDATE render_jobs SET status = 'failed', finished_at = $1, lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = NULL,
             error_code = $2, error_message = $3, render_time_ms = coalesce(render_time_ms, 0) + $4, webhook_pending = true WHERE id = $5`,
          [now, error.code, error.message, error.renderTimeMs, id],
        );
        await this.terminal(c, job, now, error.renderTimeMs);
        await this.notify(c, 'terminal', [id]);
      }
      return true;
    });
    if (ok) retryAt === null ? this.emitTerminal(id) : this.events.emit('work');
    return ok;
  }

  async cancel(accountId: string, id: string, now: number) {
    const { canceled, job } = await this.db.tx(async (c) => {
      const res = await c.query(
        `UPDATE render_jobs SET status = 'canceled', finished_at = $1, lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = NULL,
           webhook_pending = true WHERE account_id = $2 AND id = $3 AND status IN ${UNFINISHED}`,
        [now, accountId, id],
      );
      const canceled = res.rowCount === 1;
      if (canceled) {
        await this.terminal(c, { id, accountId }, now, 0);
        await this.notify(c, 'terminal', [id]);
      }
      return { canceled, job: await this.job('SELECT * FROM render_jobs WHERE account_id = $1 AND id = $2', [accountId, id], c) };
    });
    if (canceled) this.emitTerminal(id);
    return { canceled, job };
  }

  async cancelForDeploy(deployId: string, now: number) {
    const ids = await this.db.tx(async (c) => {
      const { rows } = await c.query(
        `UPDATE render_jobs SET status = 'canceled', finished_at = $1, lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = NULL,
           webhook_pending = true WHERE deploy_id = $2 AND status IN ${UNFINISHED} RETURNING id`,
        [now, deployId],
      );
      const ids = rows.map((r) => r.id as string);
      if (ids.length > 0) {
        await c.query('DELETE FROM render_job_payloads WHERE render_job_id = ANY($1::text[])', [ids]);
        await this.notify(c, 'terminal', ids);
      }
      return ids;
    });
    for (const id of ids) this.emitTerminal(id);
    return ids.length;
  }

  async delete(accountId: string, id: string) {
    return this.db.tx(async (c) => {
      const { rowCount } = await c.query(`SELECT 1 FROM render_jobs WHERE account_id = $1 AND id = $2 AND status IN ${TERMINAL} FOR UPDATE`, [accountId, id]);
      if (rowCount !== 1) return false;
      await c.query('DELETE FROM render_job_payloads WHERE render_job_id = $1', [id]);
      await c.query('DELETE FROM render_jobs WHERE id = $1', [id]);
      return true;
    });
  }

  async promoteDue(now: number) {
    // one autocommit statement (it runs on every node's safety-net poll); the NOTIFY is sent only if rows moved
    const { rows } = await this.db.query<{ n: number }>(
      `WITH promoted AS (
         UPDATE render_jobs SET status = 'queued' WHERE status = 'retry_scheduled' AND next_attempt_at <= $1 RETURNING id
       ), counted AS (SELECT count(*) AS n, min(id) AS id FROM promoted)
       SELECT n, CASE WHEN n > 0 THEN pg_notify($2, 'work:' || id || ':' || $3::text) END AS notified FROM counted`,
      [now, JOBS_CHANNEL, this.origin],
    );
    const n = rows[0].n;
    if (n > 0) this.events.emit('work');
    return n;
  }

  async reclaimExpired(now: number, retryAt: (job: RenderJobRecord) => number) {
    // cheap check first: this runs on every node's poll and almost always finds nothing
    const { rowCount } = await this.db.query(`SELECT 1 FROM render_jobs WHERE status = 'rendering' AND lease_expires_at < $1 LIMIT 1`, [now]);
    if (!rowCount) return 0;
    const { n, terminalIds } = await this.db.tx(async (c) => {
      // SKIP LOCKED: another node reclaiming (or a worker heartbeating) at the same moment is left alone
      const lapsed = await this.jobs(`SELECT * FROM render_jobs WHERE status = 'rendering' AND lease_expires_at < $1 ORDER BY id FOR UPDATE SKIP LOCKED`, [now], c);
      const terminalIds: string[] = [];
      for (const job of lapsed) {
        const message = `The worker rendering this job stopped responding (attempt ${job.attempt} of ${job.maxAttempts}).`;
        if (job.attempt < job.maxAttempts) {
          await c.query(
            `UPDATE render_jobs SET status = 'retry_scheduled', next_attempt_at = $1, lease_owner = NULL, lease_expires_at = NULL,
               error_code = 'render_internal_error', error_message = $2 WHERE id = $3`,
            [retryAt(job), message, job.id],
          );
        } else {
          await c.query(
            `UPDATE render_jobs SET status = 'failed', finished_at = $1, lease_owner = NULL, lease_expires_at = NULL,
               error_code = 'render_internal_error', error_message = $2, webhook_pending = true WHERE id = $3`,
            [now, message, job.id],
          );
          await this.terminal(c, job, now, 0);
          terminalIds.push(job.id);
        }
      }
      await this.notify(c, 'terminal', terminalIds);
      return { n: lapsed.length, terminalIds };
    });
    for (const id of terminalIds) this.emitTerminal(id);
    if (n > 0) this.events.emit('work');
    return n;
  }

  async nextWakeAt() {
    const { rows } = await this.db.query<{ t: number | null }>(
      `SELECT least(
         (SELECT min(next_attempt_at) FROM render_jobs WHERE status = 'retry_scheduled'),
         (SELECT min(lease_expires_at) FROM render_jobs WHERE status = 'rendering')) AS t`,
    );
    return rows[0].t;
  }

  async markOutputDeleted(id: string, now: number) {
    await this.db.query('UPDATE render_jobs SET output_deleted_at = coalesce(output_deleted_at, $1) WHERE id = $2', [now, id]);
  }

  async expiredOutputs(now: number, limit: number) {
    return this.jobs(
      `SELECT * FROM render_jobs WHERE output_key IS NOT NULL AND output_deleted_at IS NULL AND output_expires_at IS NOT NULL AND output_expires_at <= $1
       ORDER BY output_expires_at, id LIMIT $2`,
      [now, limit],
    );
  }

  async isOutputRecorded(key: string) {
    const { rows } = await this.db.query(
      `SELECT 1 FROM render_jobs WHERE output_key = $1 AND output_deleted_at IS NULL
       UNION ALL SELECT 1 FROM pdfs WHERE blob_key = $1 AND deleted_at IS NULL LIMIT 1`,
      [key],
    );
    return rows.length > 0;
  }

  async pendingWebhooks(limit: number) {
    return this.jobs('SELECT * FROM render_jobs WHERE webhook_pending ORDER BY finished_at, id LIMIT $1', [limit]);
  }

  async clearWebhookPending(id: string) {
    await this.db.query('UPDATE render_jobs SET webhook_pending = false WHERE id = $1', [id]);
  }

  async countByStatus() {
    const counts: Record<RenderJobStatus, number> = { queued: 0, rendering: 0, retry_scheduled: 0, succeeded: 0, failed: 0, canceled: 0 };
    const { rows } = await this.db.query<{ status: RenderJobStatus; n: number }>('SELECT status, count(*) AS n FROM render_jobs GROUP BY status');
    for (const r of rows) counts[r.status] = r.n;
    return counts;
  }

  async outputBytes(accountId: string) {
    const { rows } = await this.db.query<{ transient: number; managed: number }>(
      `SELECT
         (SELECT coalesce(sum(output_bytes), 0) FROM render_jobs WHERE account_id = $1 AND output_key IS NOT NULL AND output_deleted_at IS NULL) AS transient,
         (SELECT coalesce(sum(bytes), 0) FROM pdfs WHERE account_id = $1 AND deleted_at IS NULL) AS managed`,
      [accountId],
    );
    return { managedPdfStorageBytes: rows[0].managed, renderOutputStorageBytes: rows[0].transient };
  }

  pdfs: JobQueue['pdfs'] = {
    get: async (accountId, id) => {
      const { rows } = await this.db.query('SELECT * FROM pdfs WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL', [accountId, id]);
      return camel<PdfRecord>(rows[0]);
    },
    list: async (accountId, filter, page) => {
      const q = new Params();
      let where = `account_id = ${q.p(accountId)} AND deleted_at IS NULL`;
      if (filter.deployId) where += ` AND deploy_id = ${q.p(filter.deployId)}`;
      where += afterClause(q, page.after);
      const { rows } = await this.db.query(`SELECT * FROM pdfs WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT ${q.p(page.limit + 1)}`, q.values);
      return camelAll<PdfRecord>(rows);
    },
    markDeleted: async (accountId, id, now) =>
      (await this.db.query('UPDATE pdfs SET deleted_at = $1 WHERE account_id = $2 AND id = $3 AND deleted_at IS NULL', [now, accountId, id])).rowCount === 1,
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
