import type { Row } from '../sql/executor.js';
import { StatementCache, type SqliteConnection } from './connection.js';

/* The parts of node:sqlite this connection uses (@types/node follows the oldest supported Node, which has none). */
interface StatementSync {
  all(...params: unknown[]): unknown[][];
  get(...params: unknown[]): unknown[] | undefined;
  run(...params: unknown[]): { changes: number | bigint };
  columns(): { name: string }[];
  setReturnArrays(enabled: boolean): void;
  setReadBigInts(enabled: boolean): void;
}
interface DatabaseSync {
  readonly isTransaction: boolean;
  prepare(sql: string): StatementSync;
  exec(sql: string): void;
  close(): void;
}
export interface NodeSqliteModule {
  DatabaseSync: new (file: string) => DatabaseSync;
  StatementSync: { prototype: object };
}

interface Prepared {
  statement: StatementSync;
  /** the result's column names, in order ([] for a write without RETURNING) */
  names: string[];
}

/**
 * SQLite's primary result codes by number, and the extended codes of constraint failures, named as better-sqlite3
 * names them (node:sqlite throws code ERR_SQLITE_ERROR with the number in `errcode`).
 */
const PRIMARY = [
  'OK', 'ERROR', 'INTERNAL', 'PERM', 'ABORT', 'BUSY', 'LOCKED', 'NOMEM', 'READONLY', 'INTERRUPT', 'IOERR', 'CORRUPT', 'NOTFOUND',
  'FULL', 'CANTOPEN', 'PROTOCOL', 'EMPTY', 'SCHEMA', 'TOOBIG', 'CONSTRAINT', 'MISMATCH', 'MISUSE', 'NOLFS', 'AUTH', 'FORMAT', 'RANGE',
  'NOTADB', 'NOTICE', 'WARNING',
];
const CONSTRAINT: Record<number, string> = { 1: '_CHECK', 3: '_FOREIGNKEY', 5: '_NOTNULL', 6: '_PRIMARYKEY', 8: '_UNIQUE' };

function named(err: unknown): unknown {
  const e = err as { code?: unknown; errcode?: unknown };
  if (e?.code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number') {
    const primary = PRIMARY[e.errcode & 0xff] ?? 'ERROR';
    e.code = `SQLITE_${primary}${primary === 'CONSTRAINT' ? (CONSTRAINT[e.errcode >> 8] ?? '') : ''}`;
  }
  return err;
}

/**
 * A row as better-sqlite3 gives it. node:sqlite's own rows are null-prototype objects with BLOBs as Uint8Array and
 * integers beyond 2^53 an error (ERR_OUT_OF_RANGE); read as arrays with BigInts, a row is built here instead: a
 * plain object, BLOBs as Buffers (same memory), integers as numbers (rounded beyond 2^53, as better-sqlite3 does).
 */
function toRow(names: string[], values: unknown[]): Row {
  const row: Row = {};
  for (let i = 0; i < names.length; i++) {
    const v = values[i];
    row[names[i]!] = typeof v === 'bigint' ? Number(v) : v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;
  }
  return row;
}

/** Only a SELECT is known to write nothing; anything else waits like a write (which costs a wait at worst). */
const READ_ONLY = /^\s*SELECT\b/i;

/** A connection on Node's built-in node:sqlite (Node 22.16+, 24+). */
export function nodeSqlite(sqlite: NodeSqliteModule, file: string): SqliteConnection {
  let db: DatabaseSync;
  try {
    db = new sqlite.DatabaseSync(file);
  } catch (err) {
    throw named(err);
  }
  let open = true;
  const statements = new StatementCache<Prepared>((sql) => {
    const statement = db.prepare(sql);
    statement.setReturnArrays(true);
    statement.setReadBigInts(true);
    return { statement, names: statement.columns().map((c) => c.name) };
  });
  return {
    driver: 'node:sqlite',
    file,
    get open() {
      return open;
    },
    get inTransaction() {
      return db.isTransaction;
    },
    one(sql, params = []) {
      try {
        const p = statements.get(sql);
        const values = p.statement.get(...params);
        return values && toRow(p.names, values);
      } catch (err) {
        throw named(err);
      }
    },
    all(sql, params = []) {
      try {
        const p = statements.get(sql);
        return p.statement.all(...params).map((values) => toRow(p.names, values));
      } catch (err) {
        throw named(err);
      }
    },
    run(sql, params = []) {
      try {
        // with RETURNING too: SQLite makes every change on the first step, and `run` counts them
        return Number(statements.get(sql).statement.run(...params).changes);
      } catch (err) {
        throw named(err);
      }
    },
    readonly: (sql) => READ_ONLY.test(sql),
    exec(sql) {
      try {
        db.exec(sql);
      } catch (err) {
        throw named(err);
      }
    },
    close() {
      if (!open) return;
      open = false;
      db.close();
    },
  };
}
