/** A row as the driver returns it: column name → value. */
export type Row = Record<string, unknown>;

/**
 * The one interface the shared SQL is written against. One placeholder style: `?`, in order (the PostgreSQL executor
 * numbers them). Unique violations surface as ConflictError on both databases.
 */
export interface SqlExecutor {
  /** the first row, or undefined */
  one(sql: string, params?: readonly unknown[]): Promise<Row | undefined>;
  all(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** runs a write; resolves to the number of rows it changed */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
  /**
   * Runs `fn` in one write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: READ COMMITTED, re-run whole on deadlock
   * or serialization failure, so `fn` must have no effects outside the database). Inside, `tx` joins the transaction.
   */
  tx<T>(fn: (x: SqlExecutor) => Promise<T>): Promise<T>;
}

/** An executor that owns its connection(s). */
export interface SqlConnection extends SqlExecutor {
  close(): Promise<void>;
}
