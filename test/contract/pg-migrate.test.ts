import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { migratePostgres } from '../../src/adapters/postgres/migrate.js';
import { pgTypes } from '../../src/adapters/postgres/executor.js';
import { openPostgres } from '../../src/adapters/postgres/index.js';
import { openSqliteFile } from '../../src/adapters/sqlite/driver.js';
import { migrate as migrateSqlite } from '../../src/adapters/sqlite/migrate.js';
import { createTestDatabase, PG_SKIP_REASON, PG_TEST_URL } from '../helpers/backends.js';

const PG_MIGRATIONS = fileURLToPath(new URL('../../src/adapters/postgres/migrations/', import.meta.url));
const SQLITE_MIGRATIONS = fileURLToPath(new URL('../../src/adapters/sqlite/migrations/', import.meta.url));

describe('PostgreSQL migrations', () => {
  if (!PG_TEST_URL) {
    it.skip(PG_SKIP_REASON, () => {});
    return;
  }
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('mirror the SQLite migrations file for file', () => {
    expect(readdirSync(PG_MIGRATIONS).filter((f) => f.endsWith('.sql')).sort()).toEqual(readdirSync(SQLITE_MIGRATIONS).filter((f) => f.endsWith('.sql')).sort());
  });

  it('apply once when three nodes start at the same time on an empty database', async () => {
    const db = await createTestDatabase();
    cleanup.push(db.drop);
    const pools = [1, 2, 3].map(() => new pg.Pool({ connectionString: db.url, max: 2, types: pgTypes }));
    cleanup.push(async () => void (await Promise.all(pools.map((p) => p.end()))));
    const ran = await Promise.all(pools.map((p) => migratePostgres(p)));
    const files = readdirSync(PG_MIGRATIONS).filter((f) => /^\d{3}-.*\.sql$/.test(f)).sort();
    expect(ran.flat().sort()).toEqual(files); // each file applied by exactly one of them
    const { rows } = await pools[0].query('SELECT version, name FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.name)).toEqual(files);
    expect(await migratePostgres(pools[1])).toEqual([]);
  });

  it('let several openPostgres calls race (the composition root path) and leave a usable store', async () => {
    const db = await createTestDatabase();
    cleanup.push(db.drop);
    const opened = await Promise.all([1, 2, 3].map(() => openPostgres(db.url, { max: 2 })));
    cleanup.push(async () => void (await Promise.all(opened.map((o) => o.close()))));
    const rows = await opened[2].sql.all('SELECT count(*) AS n FROM schema_migrations');
    expect(rows[0].n).toBe(readdirSync(PG_MIGRATIONS).filter((f) => f.endsWith('.sql')).length);
  });

  it('create the same tables and columns as the SQLite schema', async () => {
    const db = await createTestDatabase();
    cleanup.push(db.drop);
    const pgDb = await openPostgres(db.url, { max: 1 });
    cleanup.push(() => pgDb.close());
    const rows = await pgDb.sql.all(
      `SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY 1, 2`,
    );
    const lite = openSqliteFile(':memory:');
    migrateSqlite(lite);
    const tables = lite.all(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).map((r) => r.name as string);
    const liteCols: string[] = [];
    for (const t of tables) for (const c of lite.all(`PRAGMA table_info(${t})`)) liteCols.push(`${t}.${c.name as string}`);
    lite.close();
    expect(rows.map((r) => `${r.t}.${r.c}`).sort()).toEqual(liteCols.sort());
  });

  it('refuse to start on a bad DATABASE_URL with a clear error', async () => {
    const bad = new URL(PG_TEST_URL!);
    bad.password = 'wrong-password';
    await expect(openPostgres(bad.toString())).rejects.toThrow(/password/);
  });
});
