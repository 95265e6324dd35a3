import { QuotaExceededError } from '../../model/errors.js';
import type { IdempotencyRecord, IdempotencyScope, UsageMeterCode } from '../../model/records.js';
import type { CountQuota, IdempotencyRepository, UsageRepository } from '../../ports/database.js';
import { idempotencyKeys } from './catalogue.js';
import type { Dialect } from './dialect.js';
import type { SqlExecutor } from './executor.js';
import { first, scalar } from './query.js';

/** the meter's total in the bill period: the sum of its shards (at most 16 rows) */
const periodTotal = (x: SqlExecutor, accountId: string, meter: UsageMeterCode, periodStart: number) =>
  scalar(x, 'SELECT coalesce(sum(quantity), 0) AS n FROM usage_totals WHERE account_id = ? AND meter = ? AND period_start = ?', [accountId, meter, periodStart]);

/**
 * Run first in the transaction that then records one unit of `meter`: throws QuotaExceededError when the period's
 * total has reached the limit, so that of concurrent creates with k units left exactly k pass.
 *
 * SQLite runs one write transaction at a time, so the total read here is exact. On PostgreSQL creates run side by
 * side and a read does not see the units of transactions still open, so the dialect's quota gate orders them: a
 * create whose total is more than `margin` (max_connections) below the limit holds the gate shared and passes without
 * waiting; one within the margin holds it exclusive, which waits for every shared holder to commit, and reads the
 * total again. Why shared holders cannot together overshoot: the creates that pass on the shared path without being
 * counted in the highest total any of them read were all open at one moment (just before the first commit after
 * that read), so there are at most max_connections of them, and that total was more than max_connections below the
 * limit. A create that read far from the limit but finds itself within the margin after taking the gate takes it
 * exclusive as well: two doing so at once deadlock (each waits for the other's shared hold). PostgreSQL sees this
 * one at once, not after deadlock_timeout (a waiter that holds what an earlier waiter wants is refused on the spot:
 * 2–3 ms for 2 to 8 such creates here), and the executor runs the refused ones again, straight to the exclusive gate
 * (test/contract/quota-race.test.ts). That happens only to creates that cross the margin's edge at the same moment.
 */
export async function admitUnit(t: SqlExecutor, dialect: Dialect, accountId: string, meter: UsageMeterCode, quota: CountQuota | undefined) {
  if (!quota) return;
  const gate = dialect.quotaGate;
  const check = (used: number) => {
    if (used >= quota.limit) throw new QuotaExceededError(meter, used, quota.limit);
    return used;
  };
  if (!gate) return void check(await periodTotal(t, accountId, meter, quota.periodStart));
  const far = (used: number) => quota.limit - used > gate.margin;
  if (far(quota.seen)) {
    await t.one(gate.shared, [accountId, meter]);
    // a new statement, so it sees every unit committed before the gate was granted (READ COMMITTED)
    const used = check(await periodTotal(t, accountId, meter, quota.periodStart));
    if (far(used)) return;
    // a re-run of this transaction (after the deadlock below) goes straight to the exclusive gate
    quota.seen = used;
  }
  await t.one(gate.exclusive, [accountId, meter]);
  check(await periodTotal(t, accountId, meter, quota.periodStart));
}

export function usageRepository(x: SqlExecutor): UsageRepository {
  return {
    // the migrations' trigger adds each row to its bill period's total in usage_totals, in the same statement
    record: async (accountId, meter, quantity, at) =>
      void (await x.run('INSERT INTO usage_records (account_id, meter, quantity, occurred_at) VALUES (?, ?, ?, ?)', [accountId, meter, quantity, at])),
    periodTotal: (accountId, meter, periodStart) => periodTotal(x, accountId, meter, periodStart),
    daily: async (accountId, from, to) =>
      (await x.all(
        `SELECT occurred_at / 86400000 AS day, meter, sum(quantity) AS n FROM usage_records
         WHERE account_id = ? AND occurred_at >= ? AND occurred_at < ? GROUP BY occurred_at / 86400000, meter`,
        [accountId, from, to],
      )).map((r) => ({ day: Number(r.day), meter: r.meter as UsageMeterCode, total: Number(r.n) })),
  };
}

/** an idempotency record's scope (spec §9.2): account, API key, method, route, Idempotency-Key */
const KEY = 'account_id = ? AND api_key_id = ? AND method = ? AND route = ? AND key = ?';
const scopeOf = (s: IdempotencyScope) => [s.accountId, s.apiKeyId, s.method, s.route, s.key];

export function idempotencyRepository(x: SqlExecutor): IdempotencyRepository {
  return {
    reserve: async (s, requestHash, now) => {
      const scope = scopeOf(s);
      // The existing row may be released between our INSERT and SELECT (its request failed): then try again, so a
      // null answer always means this call holds the key.
      for (;;) {
        const inserted = await x.run(
          'INSERT INTO idempotency_keys (account_id, api_key_id, method, route, key, request_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
          [...scope, requestHash, now],
        );
        if (inserted === 1) return null;
        const existing = await first(x, idempotencyKeys, `SELECT request_hash, status_code, response_body, created_at, completed_at FROM idempotency_keys WHERE ${KEY}`, scope);
        if (existing) return existing as IdempotencyRecord;
      }
    },
    complete: async (s, statusCode, responseBody, now) =>
      void (await x.run(`UPDATE idempotency_keys SET status_code = ?, response_body = ?, completed_at = ? WHERE ${KEY}`, [
        statusCode, responseBody, now, ...scopeOf(s),
      ])),
    release: async (s, createdAt) => {
      const scope = scopeOf(s);
      if (createdAt === undefined) await x.run(`DELETE FROM idempotency_keys WHERE ${KEY}`, scope);
      else await x.run(`DELETE FROM idempotency_keys WHERE ${KEY} AND created_at = ?`, [...scope, createdAt]);
    },
    purge: (before) => x.run('DELETE FROM idempotency_keys WHERE created_at < ?', [before]),
  };
}
