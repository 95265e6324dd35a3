import { ConflictError } from '../../model/errors.js';
import type { Row, SqlConnection, SqlExecutor } from '../sql/executor.js';
import type { SqliteConnection } from './connection.js';

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
 * The executor on a SQLite connection (node:sqlite or better-sqlite3, connection.ts). A statement never yields; a
 * transaction does, so while one is open, writes on any connection to the file — and every statement on this
 * connection, which would otherwise run inside it — wait.
 */
export class SqliteExecutor implements SqlConnection {
  private readonly gate: Gate;
  private readonly file: string;
  /** this connection holds the open transaction */
  private holding = false;
  /** the executor handed to a transaction's callback: same connection, no waiting, nested tx joins */
  private readonly inTx: SqlExecutor;

  constructor(readonly db: SqliteConnection) {
    this.file = db.file === ':memory:' ? `:memory:${++memories}` : db.file;
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

  private get(sql: string, params: readonly unknown[]): Row | undefined {
    try {
      return this.db.one(sql, params);
    } catch (err) {
      throw translate(err);
    }
  }
  private every(sql: string, params: readonly unknown[]): Row[] {
    try {
      return this.db.all(sql, params);
    } catch (err) {
      throw translate(err);
    }
  }
  private change(sql: string, params: readonly unknown[]): number {
    try {
      return this.db.run(sql, params);
    } catch (err) {
      throw translate(err);
    }
  }

  /** waits while a transaction is open that this statement must not run beside */
  private async turn(sql: string) {
    while (this.gate.open && (this.holding || !this.db.readonly(sql))) await this.gate.open;
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
      this.db.run('BEGIN IMMEDIATE');
      let result: T;
      try {
        result = await fn(this.inTx);
        this.db.run('COMMIT');
      } catch (err) {
        if (this.db.inTransaction) this.db.run('ROLLBACK');
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
