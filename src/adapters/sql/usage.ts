import type { IdempotencyRecord, IdempotencyScope, UsageMeterCode } from '../../model/records.js';
import type { IdempotencyRepository, UsageRepository } from '../../ports/database.js';
import { idempotencyKeys } from './catalogue.js';
import type { SqlExecutor } from './executor.js';
import { first, scalar } from './query.js';

export function usageRepository(x: SqlExecutor): UsageRepository {
  return {
    // the migrations' trigger adds each row to its bill period's total in usage_totals, in the same statement
    record: async (accountId, meter, quantity, at) =>
      void (await x.run('INSERT INTO usage_records (account_id, meter, quantity, occurred_at) VALUES (?, ?, ?, ?)', [accountId, meter, quantity, at])),
    periodTotal: (accountId, meter, periodStart) =>
      // the sum of the period's shards (at most 16 rows)
      scalar(x, 'SELECT coalesce(sum(quantity), 0) AS n FROM usage_totals WHERE account_id = ? AND meter = ? AND period_start = ?', [accountId, meter, periodStart]),
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
