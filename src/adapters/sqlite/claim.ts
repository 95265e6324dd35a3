import type { ClaimRequest } from '../sql/dialect.js';
import type { Row, SqlExecutor } from '../sql/executor.js';
import { CLAIM_SET, claimParams } from '../sql/render-jobs.js';

/**
 * The claim on SQLite: one writer at a time (BEGIN IMMEDIATE), so "count the account's running jobs, then claim"
 * needs no row locks. Limits are looked up before the transaction (they may be async); the transaction re-checks the
 * counts, and accounts at their limit are filtered out in SQL, so they never hide other accounts' jobs behind them.
 */
export async function claim(x: SqlExecutor, req: ClaimRequest): Promise<Row | undefined> {
  const accounts = await x.all(`SELECT DISTINCT account_id FROM render_jobs WHERE status = 'queued'`);
  if (accounts.length === 0) return undefined;
  const limits = new Map<string, number | null>();
  for (const a of accounts) limits.set(a.account_id as string, await req.accountLimit(a.account_id as string));
  return x.tx(async (t) => {
    const running = new Map<string, number>();
    for (const r of await t.all(`SELECT account_id, count(*) AS n FROM render_jobs WHERE status = 'rendering' GROUP BY account_id`)) {
      running.set(r.account_id as string, r.n as number);
    }
    // an account enqueued after the lookup has no known limit yet: it waits for the next claim
    const eligible = [...limits].filter(([id, limit]) => limit === null || (running.get(id) ?? 0) < limit).map(([id]) => id);
    if (eligible.length === 0) return undefined;
    const next = await t.one(
      `SELECT id FROM render_jobs WHERE status = 'queued' AND account_id IN (SELECT value FROM json_each(?)) ORDER BY requested_at, id LIMIT 1`,
      [JSON.stringify(eligible)],
    );
    if (!next) return undefined;
    return t.one(`UPDATE render_jobs SET ${CLAIM_SET} WHERE id = ? AND status = 'queued' RETURNING *`, [...claimParams(req), next.id]);
  });
}
