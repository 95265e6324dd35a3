import { describe, expect, it } from 'vitest';
import { TABLES } from '../../src/adapters/sql/catalogue.js';
import { openSqliteFile } from '../../src/adapters/sqlite/driver.js';
import { migrate } from '../../src/adapters/sqlite/migrate.js';

/*
 * The catalogue (src/adapters/sql/catalogue.ts) decodes rows, encodes records and tells migrate-store what to copy:
 * a table or column the migrations create but the catalogue lacks would be dropped without a word. The migrations
 * of the two dialects create the same columns (test/contract/pg-migrate.test.ts), so checking SQLite's suffices.
 */
describe('the table catalogue', () => {
  const db = openSqliteFile(':memory:');
  migrate(db);
  const tables = db.all(`SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'schema_migrations' ORDER BY name`).map((r) => r.name);
  const info = (t: string) => db.all(`PRAGMA table_info(${t})`) as { name: string; pk: number }[];

  it('lists every table the migrations create', () => {
    expect(TABLES.map((t) => t.name).sort()).toEqual(tables);
  });

  it.each(TABLES.map((t) => [t.name, t] as const))('%s: the same columns and primary key as the migrations', (_name, t) => {
    const cols = info(t.name);
    expect([...t.columnField.keys()].sort()).toEqual(cols.map((c) => c.name).sort());
    expect(t.primaryKey).toEqual(cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name));
  });

  it('orders parents before children, so migrate-store can copy table by table', () => {
    const position = new Map(TABLES.map((t, i) => [t.name, i]));
    for (const t of TABLES) {
      for (const fk of db.all(`PRAGMA foreign_key_list(${t.name})`) as { table: string }[]) {
        expect(position.get(fk.table), `${t.name} → ${fk.table}`).toBeLessThan(position.get(t.name)!);
      }
    }
  });
});
