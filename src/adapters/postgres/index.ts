import type { Logger } from '@press-cloud/engine/logger';
import { SqlDatabase } from '../sql/database.js';
import type { Dialect } from '../sql/dialect.js';
import { claim } from './claim.js';
import { PgExecutor } from './executor.js';
import { migratePostgres } from './migrate.js';
import { PgNotifier, PgWakeups } from './wakeups.js';

export interface PgOptions {
  /** pool size per process (node-postgres default 10) */
  max?: number;
  /** idle pool clients failing (server restart, network) and listener reconnects are reported here */
  logger?: Logger;
  /** skip migrations (tests that run them by hand) */
  migrate?: boolean;
}

/**
 * The webhook gate (Dialect.webhookGate): a two-key advisory lock, first key "wh" in ASCII, second the deploy id's
 * hash; shared by terminal transitions, exclusive for a settings change. In memory only (no row lock, no WAL), and
 * two-key locks never collide with the one-key migration lock. Every path takes the gate before any row: a
 * transition (a reclaim too) before its job's row, a change before the deploy row; neither waits for the other's row
 * while holding one, so they cannot deadlock.
 */
const WEBHOOK_GATE_CLASS = 0x7768;
export const WEBHOOK_GATE = {
  shared: `, pg_advisory_xact_lock_shared(${WEBHOOK_GATE_CLASS}, hashtext(deploy_id)) AS webhook_gate`,
  exclusive: `SELECT pg_advisory_xact_lock(${WEBHOOK_GATE_CLASS}, hashtext(?)) AS webhook_gate`,
};

/**
 * The quota gate (Dialect.quotaGate): a two-key advisory lock, first key "qu" in ASCII, second the hash of account and
 * meter (a collision only makes two accounts' creates near their limits wait for each other). A create far from
 * the limit holds it shared (no waiting: only an exclusive holder conflicts); one within `margin` of it holds it
 * exclusive, so it waits for every create in flight and then reads a total that includes them. Taken first in its
 * transaction, before any row lock.
 */
const QUOTA_GATE_CLASS = 0x7175;
const quotaGate = (margin: number) => ({
  shared: `SELECT pg_advisory_xact_lock_shared(${QUOTA_GATE_CLASS}, hashtext(?::text || '/' || ?::text)) AS quota_gate`,
  exclusive: `SELECT pg_advisory_xact_lock(${QUOTA_GATE_CLASS}, hashtext(?::text || '/' || ?::text)) AS quota_gate`,
  margin,
});

/**
 * Connects, applies pending migrations (under an advisory lock, so several nodes may start at once) and starts
 * listening for queue notifications. `close()` ends the pool and the LISTEN session.
 */
export async function openPostgres(url: string, opts: PgOptions = {}): Promise<SqlDatabase> {
  const executor = new PgExecutor(url, opts);
  let maxConnections: number;
  try {
    if (opts.migrate !== false) await migratePostgres(executor.pool);
    maxConnections = Number((await executor.one('SHOW max_connections'))!.max_connections);
  } catch (err) {
    await executor.close();
    throw err;
  }
  const notifier = new PgNotifier(url, opts.logger);
  const dialect: Dialect = {
    name: 'postgres', forUpdate: ' FOR UPDATE', skipLocked: ' FOR UPDATE SKIP LOCKED', webhookGate: WEBHOOK_GATE,
    quotaGate: quotaGate(maxConnections), claim, wakeups: new PgWakeups(notifier),
  };
  const u = new URL(url);
  const description = `postgres:${u.hostname}:${u.port || 5432}${u.pathname}`;
  const db = new SqlDatabase(executor, dialect, description, () => notifier.stop());
  try {
    await notifier.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}
