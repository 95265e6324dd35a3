import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { betterSqlite3, type BetterSqlite3Module } from './better-sqlite3.js';
import type { SqliteConnection, SqliteDriverName } from './connection.js';
import { nodeSqlite, type NodeSqliteModule } from './node-sqlite.js';

const require = createRequire(import.meta.url);

interface Picked {
  name: SqliteDriverName;
  open: (file: string) => SqliteConnection;
}
let picked: Picked | undefined;

/**
 * node:sqlite where the running Node has it with the statement API the connection uses (`setReturnArrays`,
 * `columns`, `isTransaction`: Node 22.16+, 24+); better-sqlite3 (an optional dependency, a native addon) before.
 * better-sqlite3 12 aborts the process on Node ≥ 24.19 (SIGABRT in Statement::~Statement when a statement is
 * garbage-collected), and its fix, better-sqlite3 13, does not run on Node 20.
 */
export function sqliteDriver(): Picked {
  if (picked) return picked;
  const builtin = loadNodeSqlite();
  if (builtin && 'setReturnArrays' in builtin.StatementSync.prototype) {
    return (picked = { name: 'node:sqlite', open: (file) => nodeSqlite(builtin, file) });
  }
  let addon: BetterSqlite3Module;
  try {
    addon = require('better-sqlite3') as BetterSqlite3Module;
  } catch (err) {
    throw new SqliteDriverError(err);
  }
  const open = (file: string) => {
    try {
      return betterSqlite3(addon, file);
    } catch (err) {
      // its native addon loads on first open: missing, or built for another Node
      if ((err as { code?: string }).code === 'ERR_DLOPEN_FAILED') throw new SqliteDriverError(err);
      throw err;
    }
  };
  return (picked = { name: 'better-sqlite3', open });
}

/** Neither driver can run: one line for the operator (press-cloud prints it without a stack). */
export class SqliteDriverError extends Error {
  override name = 'SqliteDriverError';
  constructor(cause: unknown) {
    const why = (cause as Error).message.split(/\nRequire stack:/)[0]!.replace(/\s*\n\s*/g, ' ').replace(/\.$/, '');
    super(
      `SQLite on Node ${process.versions.node} needs the better-sqlite3 package (node:sqlite needs Node 22.16 or later), and it did ` +
        `not load (${why}). Install or rebuild it (npm install better-sqlite3, npm rebuild better-sqlite3), use Node 22.16 or ` +
        `later, or PostgreSQL (DATABASE_URL).`,
      { cause },
    );
  }
}

/** node:sqlite, if this Node has it unflagged, without Node 22's "SQLite is an experimental feature" warning */
function loadNodeSqlite(): NodeSqliteModule | undefined {
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (!getBuiltin) return undefined;
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (/^SQLite is an experimental feature/.test(text)) return;
    return (emitWarning as (...a: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    return getBuiltin('node:sqlite') as NodeSqliteModule | undefined;
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** Opens (creating if needed) the SQLite database at `file` (or ':memory:') with the process's driver. */
export function openSqliteFile(file: string): SqliteConnection {
  if (file !== ':memory:') {
    // metadata holds key hashes and sealed secrets: readable by the server's user only (SQLite gives its -wal and
    // -shm files the database file's mode)
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    closeSync(openSync(file, 'a', 0o600));
  }
  const db = sqliteDriver().open(file);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA foreign_keys = ON');
  db.exec('PRAGMA busy_timeout = 5000');
  return db;
}
