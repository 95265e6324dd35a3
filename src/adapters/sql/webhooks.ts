import type { WebhookRepository } from '../../ports/database.js';
import { webhookDeliveries, webhookEvents } from './catalogue.js';
import type { Dialect } from './dialect.js';
import type { SqlExecutor } from './executor.js';
import { first, insertRecord, pageOf, scalar } from './query.js';

const DUE = `status = 'pending' AND next_attempt_at <= ? AND (lease_expires_at IS NULL OR lease_expires_at <= ?)`;

export function webhookRepository(x: SqlExecutor, dialect: Pick<Dialect, 'skipLocked' | 'forUpdate'>): WebhookRepository {
  return {
    createEvent: (event, first) =>
      x.tx(async (t) => {
        const created = (await insertRecord(t, webhookEvents, event, ' ON CONFLICT (id) DO NOTHING')) === 1;
        if (created) await insertRecord(t, webhookDeliveries, first);
        return created;
      }),
    getEvent: (id) => first(x, webhookEvents, 'SELECT * FROM webhook_events WHERE id = ?', [id]),
    claimDue: async (now, owner, leaseUntil) => {
      // Usually nothing is due (the sender runs after every job): a plain read answers that without a write lock.
      if (!(await x.one(`SELECT 1 AS n FROM webhook_deliveries WHERE ${DUE} LIMIT 1`, [now, now]))) return null;
      // One statement; SKIP LOCKED (PostgreSQL) lets several senders lease different deliveries without waiting.
      return first(
        x, webhookDeliveries,
        `UPDATE webhook_deliveries SET lease_owner = ?, lease_expires_at = ?
         WHERE id = (SELECT id FROM webhook_deliveries WHERE ${DUE} ORDER BY next_attempt_at, id LIMIT 1${dialect.skipLocked})
           AND ${DUE}
         RETURNING *`,
        [owner, leaseUntil, now, now, now, now],
      );
    },
    complete: (id, owner, r, next) =>
      x.tx(async (t) => {
        const done = (await t.run(
          `UPDATE webhook_deliveries SET status = ?, url = ?, response_status = ?, error = ?, delivered_at = ?, duration_ms = ?, next_attempt_at = ?,
             lease_owner = NULL, lease_expires_at = NULL
           WHERE id = ? AND status = 'pending' AND lease_owner = ?`,
          [r.status, r.url, r.responseStatus, r.error, r.deliveredAt, r.durationMs, r.nextAttemptAt, id, owner],
        )) === 1;
        if (done && next) await insertRecord(t, webhookDeliveries, next, ' ON CONFLICT (event_id, attempt) DO NOTHING');
        return done;
      }),
    get: (accountId, id) => first(x, webhookDeliveries, 'SELECT * FROM webhook_deliveries WHERE account_id = ? AND id = ?', [accountId, id]),
    redeliver: (attempt, now) =>
      x.tx(async (t) => {
        // the event row's lock serialises redeliveries of one event (PostgreSQL; SQLite's write transaction already does)
        await t.one(`SELECT id FROM webhook_events WHERE id = ?${dialect.forUpdate}`, [attempt.eventId]);
        const pending = await first(t, webhookDeliveries, `SELECT * FROM webhook_deliveries WHERE event_id = ? AND status = 'pending'`, [attempt.eventId]);
        if (pending) {
          await t.run('UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ? AND next_attempt_at > ?', [now, pending.id, now]);
          return { delivery: (await first(t, webhookDeliveries, 'SELECT * FROM webhook_deliveries WHERE id = ?', [pending.id]))!, created: false };
        }
        const last = await scalar(t, 'SELECT coalesce(max(attempt), 0) AS n FROM webhook_deliveries WHERE event_id = ?', [attempt.eventId]);
        const delivery = { ...attempt, attempt: last + 1 };
        await insertRecord(t, webhookDeliveries, delivery);
        return { delivery, created: true };
      }),
    list: (accountId, deployId, page) => pageOf(x, webhookDeliveries, 'account_id = ? AND deploy_id = ?', [accountId, deployId], page),
  };
}
