import pg from 'pg';
import { ConflictError } from '../../domain/errors.js';
import { migratePostgres } from './migrate.js';
import { PgNotifier } from './pg-notify.js';

/** a pooled client inside a transaction, or the database itself (autocommit) */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
}

export interface PgLogger {
  warn(obj: object, msg?: string): void;
}

export interface PgOptions {
  /** pool size per process (node-postgres default 10) */
  max?: number;
  /** idle pool clients failing (server restart, network) and listener reconnects are reported here */
  logger?: PgLogger;
  /** skip migrations (tests that run them by hand) */
  migrate?: boolean;
}

/** application_name of pooled sessions (visible in pg_stat_activity) */
export const POOL_APP_NAME = 'press-cloud';
const INT8 = 20;
const NUMERIC = 1700;

function toNumber(raw: string): number {
  const n = Number(raw);
  // ms timestamps and byte counts stay far below 2^53; a value beyond means corrupt data, not something to round
  if (!Number.isSafeInteger(n) && Number.isInteger(n)) throw new RangeError(`integer ${raw} is outside JavaScript's safe range`);
  return n;
}

/**
 * BIGINT (int8) and NUMERIC come back from node-postgres as strings; every such column here is a ms timestamp, a byte
 * count or a sum of them, so they are parsed to numbers. Scoped to our pools (not pg.types) to leave other users alone.
 */
export const pgTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if ((oid === INT8 || oid === NUMERIC) && format !== 'binary') return toNumber;
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** Unique violations (SQLSTATE 23505) become ConflictError, as SQLite's do; everything else passes through. */
export function translatePgError(err: unknown): unknown {
  const e = err as { code?: string; constraint?: string; message?: string };
  if (e && e.code === '23505') return new ConflictError(e.constraint ?? String(e.message), err);
  return err;
}

/** Deadlocks and serialization failures are safe to retry: the transaction was rolled back whole. */
const RETRYABLE = new Set(['40P01', '40001']);

/**
 * One PostgreSQL database shared by PgStore and PgQueue of a process: the pool, transactions, and the LISTEN client.
 * PgStore.close() closes it (the JobQueue port has no close of its own).
 */
export class PgDatabase {
  readonly pool: pg.Pool;
  readonly notifier: PgNotifier;
  private closed = false;

  private constructor(readonly url: string, opts: PgOptions) {
    this.pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, types: pgTypes, application_name: POOL_APP_NAME });
    // Without a listener an idle client's error (e.g. the server restarting) would crash the process; the pool
    // drops that client and opens a new one on the next checkout.
    this.pool.on('error', (err) => opts.logger?.warn({ err }, 'idle PostgreSQL client failed'));
    this.notifier = new PgNotifier(url, opts.logger);
  }

  /** Connects, applies pending migrations (under an advisory lock) and starts listening for queue notifications. */
  static async open(url: string, opts: PgOptions = {}): Promise<PgDatabase> {
    const db = new PgDatabase(url, opts);
    try {
      if (opts.migrate !== false) await migratePostgres(db.pool);
      await db.notifier.start();
    } catch (err) {
      await db.close();
      throw err;
    }
    return db;
  }

  async query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params);
    } catch (err) {
      throw translatePgError(err);
    }
  }

  /**
   * Runs `fn` in one READ COMMITTED transaction on one pooled client. Retried (whole) on deadlock or serialization
   * failure, so `fn` must have no effects outside the database; unique violations surface as ConflictError.
   */
  async tx<T>(fn: (c: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        const code = (err as { code?: string }).code;
        if (code && RETRYABLE.has(code) && attempt < 3) continue;
        throw translatePgError(err);
      } finally {
        client.release(broken);
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.notifier.stop();
    await this.pool.end();
  }
}
