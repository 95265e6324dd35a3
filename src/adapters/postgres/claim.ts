import type { ClaimRequest } from '../sql/dialect.js';
import type { Row, SqlExecutor } from '../sql/executor.js';
import { CLAIM_SET, claimParams } from '../sql/render-jobs.js';

/** accounts whose concurrency limit is looked up per claim round (the oldest queued jobs' accounts) */
const CANDIDATE_ACCOUNTS = 50;
/**
 * First key of the two-key advisory lock taken per account while counting its running jobs and claiming one
 * ("rj" in ASCII); the second key is hashtext(account_id). Two-key locks never collide with the one-key migration lock.
 */
const ACCOUNT_LOCK_CLASS = 0x726a;

/**
 * Claims the oldest queued job whose account is under its concurrency limit, with `FOR UPDATE SKIP LOCKED` so any
 * number of workers on any number of nodes take different jobs without waiting on each other.
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
export async function claim(x: SqlExecutor, req: ClaimRequest): Promise<Row | undefined> {
  const limits = new Map<string, number | null>();
  const full: string[] = [];
  const params = claimParams(req);
  for (;;) {
    const rows = await x.all(
      `SELECT account_id FROM render_jobs WHERE status = 'queued' AND NOT (account_id = ANY(?::text[]))
       GROUP BY account_id ORDER BY min(requested_at), account_id LIMIT ${CANDIDATE_ACCOUNTS}`,
      [full],
    );
    if (rows.length === 0) return undefined;
    const accounts = rows.map((r) => r.account_id as string);
    for (const a of accounts) if (!limits.has(a)) limits.set(a, await req.accountLimit(a));

    const limited = accounts.filter((a) => limits.get(a) !== null);
    if (limited.length === 0) {
      return x.one(
        `UPDATE render_jobs SET ${CLAIM_SET}
         WHERE id = (SELECT id FROM render_jobs WHERE status = 'queued' AND account_id = ANY(?::text[]) ORDER BY requested_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING *`,
        [...params, accounts],
      );
    }

    // A snapshot count rules out accounts that are plainly full without taking their locks (it is re-checked under
    // the lock below; an account it wrongly shows full is retried at the next wake-up, as a slot frees up).
    const running = await x.all(
      `SELECT account_id, count(*) AS n FROM render_jobs WHERE status = 'rendering' AND account_id = ANY(?::text[]) GROUP BY account_id`,
      [limited],
    );
    for (const r of running) if ((r.n as number) >= limits.get(r.account_id as string)!) full.push(r.account_id as string);
    const eligible = accounts.filter((a) => !full.includes(a));
    if (eligible.length === 0) continue;

    const outcome = await x.tx(async (t): Promise<{ job: Row | undefined } | { full: string }> => {
      const pick = await t.one(
        `SELECT id, account_id FROM render_jobs WHERE status = 'queued' AND account_id = ANY(?::text[])
         ORDER BY requested_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [eligible],
      );
      if (!pick) return { job: undefined }; // every candidate is being claimed by someone else right now
      const limit = limits.get(pick.account_id as string) ?? null;
      if (limit !== null) {
        await t.one('SELECT pg_advisory_xact_lock(?, hashtext(?))', [ACCOUNT_LOCK_CLASS, pick.account_id]);
        const n = (await t.one(`SELECT count(*) AS n FROM render_jobs WHERE account_id = ? AND status = 'rendering'`, [pick.account_id]))!.n as number;
        if (n >= limit) return { full: pick.account_id as string };
      }
      return { job: await t.one(`UPDATE render_jobs SET ${CLAIM_SET} WHERE id = ? AND status = 'queued' RETURNING *`, [...params, pick.id]) };
    });
    if ('job' in outcome) return outcome.job;
    full.push(outcome.full);
  }
}
