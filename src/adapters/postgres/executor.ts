import pg from 'pg';
import { ConflictError } from '../../model/errors.js';
import type { Logger } from '@press-cloud/engine/logger';
import type { Row, SqlConnection, SqlExecutor } from '../sql/executor.js';

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

const numbered = new Map<string, string>();
/** `?` placeholders → `$1…$n` (cached per SQL text; the shared SQL has no `?` inside string literals) */
export function numberPlaceholders(sql: string): string {
  let out = numbered.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    if (numbered.size < 10_000) numbered.set(sql, out);
  }
  return out;
}

interface Queryable {
  query(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
}

/** the shared executor shape on a pooled client (inside a transaction) or the pool (autocommit) */
function over(q: Queryable, tx: SqlExecutor['tx']): SqlExecutor {
  const query = async (sql: string, params: readonly unknown[] = []) => {
    try {
      return await q.query(numberPlaceholders(sql), params as unknown[]);
    } catch (err) {
      throw translatePgError(err);
    }
  };
  return {
    one: async (sql, params) => (await query(sql, params)).rows[0] as Row | undefined,
    all: async (sql, params) => (await query(sql, params)).rows as Row[],
    run: async (sql, params) => (await query(sql, params)).rowCount ?? 0,
    tx,
  };
}

export interface PgExecutorOptions {
  /** pool size per process (node-postgres default 10) */
  max?: number;
  /** idle pool clients failing (server restart, network) are reported here */
  logger?: Logger;
}

/** The executor on a node-postgres pool: autocommit statements on the pool, transactions on one pooled client. */
export class PgExecutor implements SqlConnection {
  readonly pool: pg.Pool;
  private readonly autocommit: SqlExecutor;
  private closed = false;

  constructor(readonly url: string, opts: PgExecutorOptions = {}) {
    this.pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, types: pgTypes, application_name: POOL_APP_NAME });
    // Without a listener an idle client's error (e.g. the server restarting) would crash the process; the pool
    // drops that client and opens a new one on the next checkout.
    this.pool.on('error', (err) => opts.logger?.warn({ err }, 'idle PostgreSQL client failed'));
    this.autocommit = over(this.pool, (fn) => this.tx(fn));
  }

  one(sql: string, params?: readonly unknown[]) {
    return this.autocommit.one(sql, params);
  }
  all(sql: string, params?: readonly unknown[]) {
    return this.autocommit.all(sql, params);
  }
  run(sql: string, params?: readonly unknown[]) {
    return this.autocommit.run(sql, params);
  }

  /**
   * Runs `fn` in one READ COMMITTED transaction on one pooled client. Retried (whole) on deadlock or serialization
   * failure, so `fn` must have no effects outside the database; unique violations surface as ConflictError.
   */
  async tx<T>(fn: (x: SqlExecutor) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const inTx: SqlExecutor = over(client, (inner) => inner(inTx));
        const result = await fn(inTx);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        const code = (err as { code?: string }).code ?? ((err as { cause?: { code?: string } }).cause?.code);
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
    await this.pool.end();
  }
}
