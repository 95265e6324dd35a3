import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConflictError } from '../../model/errors.js';
import type { Row, SqlConnection, SqlExecutor } from '../sql/executor.js';

/** More distinct SQL texts than any code path builds; a runaway caller only costs re-preparing. */
const MAX_CACHED = 1000;

/** Opens (creating if needed) the SQLite database at `file` (or ':memory:'). */
export function openSqliteFile(file: string): Database.Database {
  if (file !== ':memory:') {
    // metadata holds key hashes and sealed secrets: readable by the server's user only (SQLite gives its -wal and
    // -shm files the database file's mode)
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    closeSync(openSync(file, 'a', 0o600));
  }
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  return db;
}

function translate(err: unknown): unknown {
  const code = (err as { code?: string }).code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return new ConflictError(String((err as Error).message), err);
  return err;
}

/**
 * One writer at a time per database file in this process. A transaction's callback awaits between its statements, so
 * another connection to the same file (tests and tools open several) must not start a write meanwhile: SQLite would
 * make it wait on the file lock synchronously, blocking the very event loop that has to finish the transaction.
 */
interface Gate {
  /** settles when the open transaction ends; null when none is open */
  open: Promise<void> | null;
  /** connections using it (it is dropped with the last) */
  users: number;
}
const gates = new Map<string, Gate>();
let memories = 0;

/**
 * The executor on better-sqlite3. Statements are prepared once per SQL text and cached for the life of the connection
 * (`prepare` parses and plans each call: tens of microseconds on the hot paths; SQLite re-prepares a cached statement
 * itself after a schema change). A statement never yields; a transaction does, so while one is open, writes on any
 * connection to the file — and every statement on this connection, which would otherwise run inside it — wait.
 */
export class SqliteExecutor implements SqlConnection {
  private readonly statements = new Map<string, Database.Statement>();
  private readonly gate: Gate;
  private readonly file: string;
  /** this connection holds the open transaction */
  private holding = false;
  /** the executor handed to a transaction's callback: same connection, no waiting, nested tx joins */
  private readonly inTx: SqlExecutor;

  constructor(readonly db: Database.Database) {
    this.file = db.memory ? `:memory:${++memories}` : db.name;
    let gate = gates.get(this.file);
    if (!gate) gates.set(this.file, (gate = { open: null, users: 0 }));
    gate.users++;
    this.gate = gate;
    this.inTx = {
      one: async (sql, params = []) => this.get(sql, params),
      all: async (sql, params = []) => this.every(sql, params),
      run: async (sql, params = []) => this.change(sql, params),
      tx: (fn) => fn(this.inTx),
    };
  }

  /** the cached statement for this SQL text */
  stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      if (this.statements.size >= MAX_CACHED) this.statements.clear();
      this.statements.set(sql, s);
    }
    return s;
  }

  private get(sql: string, params: readonly unknown[]): Row | undefined {
    try {
      return this.stmt(sql).get(...params) as Row | undefined;
    } catch (err) {
      throw translate(err);
    }
  }
  private every(sql: string, params: readonly unknown[]): Row[] {
    try {
      return this.stmt(sql).all(...params) as Row[];
    } catch (err) {
      throw translate(err);
    }
  }
  private change(sql: string, params: readonly unknown[]): number {
    try {
      const s = this.stmt(sql);
      // a write with RETURNING is a reader to better-sqlite3; `run` is for the rest
      return s.reader ? s.all(...params).length : s.run(...params).changes;
    } catch (err) {
      throw translate(err);
    }
  }

  /** waits while a transaction is open that this statement must not run beside */
  private async turn(sql: string) {
    while (this.gate.open && (this.holding || !this.stmt(sql).readonly)) await this.gate.open;
  }

  async one(sql: string, params: readonly unknown[] = []) {
    if (this.gate.open) await this.turn(sql);
    return this.get(sql, params);
  }
  async all(sql: string, params: readonly unknown[] = []) {
    if (this.gate.open) await this.turn(sql);
    return this.every(sql, params);
  }
  async run(sql: string, params: readonly unknown[] = []) {
    if (this.gate.open) await this.turn(sql);
    return this.change(sql, params);
  }

  /** BEGIN IMMEDIATE takes the write lock up front, so two processes sharing the file cannot both read-then-write */
  async tx<T>(fn: (x: SqlExecutor) => Promise<T>): Promise<T> {
    while (this.gate.open) await this.gate.open;
    let done!: () => void;
    this.gate.open = new Promise((resolve) => (done = resolve));
    this.holding = true;
    try {
      this.stmt('BEGIN IMMEDIATE').run();
      let result: T;
      try {
        result = await fn(this.inTx);
        this.stmt('COMMIT').run();
      } catch (err) {
        if (this.db.inTransaction) this.stmt('ROLLBACK').run();
        throw translate(err);
      }
      return result;
    } finally {
      this.holding = false;
      this.gate.open = null;
      done();
    }
  }

  async close() {
    if (!this.db.open) return;
    this.db.close();
    if (--this.gate.users === 0) gates.delete(this.file);
  }
}
