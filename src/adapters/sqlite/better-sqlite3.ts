import type Database from 'better-sqlite3';
import type { Row } from '../sql/executor.js';
import { StatementCache, type SqliteConnection } from './connection.js';

export type BetterSqlite3Module = typeof Database;

/** A connection on better-sqlite3 (Node before 22.16): its rows and errors already are what SqliteConnection promises. */
export function betterSqlite3(Driver: BetterSqlite3Module, file: string): SqliteConnection {
  const db = new Driver(file);
  const statements = new StatementCache((sql) => db.prepare(sql));
  return {
    driver: 'better-sqlite3',
    file,
    get open() {
      return db.open;
    },
    get inTransaction() {
      return db.inTransaction;
    },
    one: (sql, params = []) => statements.get(sql).get(...params) as Row | undefined,
    all: (sql, params = []) => statements.get(sql).all(...params) as Row[],
    run: (sql, params = []) => {
      const s = statements.get(sql);
      // a write with RETURNING is a reader to better-sqlite3; `run` is for the rest
      return s.reader ? s.all(...params).length : s.run(...params).changes;
    },
    readonly: (sql) => statements.get(sql).readonly,
    exec: (sql) => void db.exec(sql),
    close: () => void db.close(),
  };
}
