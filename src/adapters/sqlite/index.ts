import { SqlDatabase } from '../sql/database.js';
import type { Dialect } from '../sql/dialect.js';
import { claim } from './claim.js';
import { openSqliteFile } from './driver.js';
import { SqliteExecutor } from './executor.js';
import { migrate } from './migrate.js';

/**
 * SQLite's dialect: no row locks (a write transaction holds the whole file) and no cross-process wake-ups — the
 * processes sharing a file (tests, migrate-store) poll; the server is one process, whose events the queue emits.
 */
export const sqliteDialect: Dialect = {
  name: 'sqlite',
  forUpdate: '',
  skipLocked: '',
  webhookGate: { shared: '', exclusive: null },
  quotaGate: null,
  claim,
  wakeups: { publish: async () => {}, subscribe: () => () => {} },
};

/** Opens the embedded database at `file` (or ':memory:'), migrated. */
export function openSqlite(file: string): SqlDatabase {
  const db = openSqliteFile(file);
  migrate(db);
  return new SqlDatabase(new SqliteExecutor(db), sqliteDialect, `sqlite:${file} (${db.driver})`);
}
