import type Database from 'better-sqlite3';

/** More distinct SQL texts than any code path builds; a runaway caller only costs re-preparing. */
const MAX_CACHED = 1000;

/**
 * Prepared statements and an IMMEDIATE-transaction runner, shared by everything using one connection.
 * `prepare` parses and plans the SQL each call (tens of microseconds per query on the hot paths); a statement is
 * reusable for the life of the connection (SQLite re-prepares it itself after a schema change).
 */
export interface DbCache {
  /** the cached statement for this SQL text */
  stmt(sql: string): Database.Statement;
  /** runs `fn` inside BEGIN IMMEDIATE … COMMIT (a SAVEPOINT when already in a transaction), like `db.transaction(fn).immediate()` */
  immediate<T>(fn: () => T): T;
}

const caches = new WeakMap<Database.Database, DbCache>();

export function dbCache(db: Database.Database): DbCache {
  let cache = caches.get(db);
  if (!cache) {
    const statements = new Map<string, Database.Statement>();
    const tx = db.transaction((fn: () => unknown) => fn());
    cache = {
      stmt(sql) {
        let s = statements.get(sql);
        if (!s) {
          s = db.prepare(sql);
          if (statements.size >= MAX_CACHED) statements.clear();
          statements.set(sql, s);
        }
        return s;
      },
      immediate: <T>(fn: () => T) => tx.immediate(fn) as T,
    };
    caches.set(db, cache);
  }
  return cache;
}
