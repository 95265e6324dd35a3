import type { Row } from '../sql/executor.js';

/** The SQLite library a connection runs on, picked once per process (driver.ts). */
export type SqliteDriverName = 'node:sqlite' | 'better-sqlite3';

/**
 * One open SQLite database, whichever library holds it: synchronous statements over `?` placeholders, prepared once
 * per SQL text. Both drivers return the same rows — plain objects; INTEGER as number (beyond 2^53 rounded, as
 * better-sqlite3 does); BLOB as Buffer — and throw SQLite's failures with better-sqlite3's `code` (SQLITE_BUSY,
 * SQLITE_CONSTRAINT_UNIQUE, …), which the executor and isDependencyOutage read.
 */
export interface SqliteConnection {
  readonly driver: SqliteDriverName;
  /** the file's path, or ':memory:' */
  readonly file: string;
  readonly open: boolean;
  readonly inTransaction: boolean;
  one(sql: string, params?: readonly unknown[]): Row | undefined;
  all(sql: string, params?: readonly unknown[]): Row[];
  /** runs a write (with or without RETURNING); the number of rows it changed */
  run(sql: string, params?: readonly unknown[]): number;
  /** the statement writes nothing (it may run beside another connection's open write transaction) */
  readonly(sql: string): boolean;
  /** runs one or more statements without parameters (pragmas, migrations) */
  exec(sql: string): void;
  close(): void;
}

/** More distinct SQL texts than any code path builds; a runaway caller only costs re-preparing. */
const MAX_CACHED = 1000;

/**
 * Statements prepared once per SQL text and kept for the life of the connection (`prepare` parses and plans each
 * call: tens of microseconds on the hot paths; SQLite re-prepares a kept statement itself after a schema change).
 */
export class StatementCache<S> {
  private readonly statements = new Map<string, S>();
  constructor(private readonly prepare: (sql: string) => S) {}

  get(sql: string): S {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.prepare(sql);
      if (this.statements.size >= MAX_CACHED) this.statements.clear();
      this.statements.set(sql, s);
    }
    return s;
  }
}
