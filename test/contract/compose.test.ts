import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { SqlDatabase } from '../../src/adapters/sql/database.js';
import { sqliteDriver } from '../../src/adapters/sqlite/driver.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startApiServer } from '../api/helpers.js';
import { createTestDatabase, PG_SKIP_REASON, PG_TEST_URL } from '../helpers/backends.js';

describe('composition root: DATABASE_URL picks the metadata backend', () => {
  it('reads DATABASE_URL (postgres:// or postgresql://) and rejects anything else', () => {
    expect(loadConfig({}).databaseUrl).toBeNull();
    expect(loadConfig({ DATABASE_URL: '' }).databaseUrl).toBeNull();
    const key = { PRESS_SECRET_KEY: 'ab'.repeat(32) };
    expect(loadConfig({ ...key, DATABASE_URL: 'postgres://u:p@db:5432/press' }).databaseUrl).toBe('postgres://u:p@db:5432/press');
    expect(loadConfig({ ...key, DATABASE_URL: 'postgresql://db/press' }).databaseUrl).toBe('postgresql://db/press');
    expect(() => loadConfig({ ...key, DATABASE_URL: 'mysql://db/press' })).toThrow(ConfigError);
    // nodes sharing a database must share the secrets key
    expect(() => loadConfig({ DATABASE_URL: 'postgres://db/press' })).toThrow(/PRESS_SECRET_KEY/);
  });

  it('uses SQLite without DATABASE_URL', async () => {
    const s = await startApiServer();
    try {
      expect(s.deps.db).toBeInstanceOf(SqlDatabase);
      expect((s.deps.db as SqlDatabase).dialect.name).toBe('sqlite');
      // /readyz names the file and the driver picked for this Node (test/adapters/sqlite-driver.test.ts)
      const ready = await s.request('GET', '/readyz', { key: null });
      expect(ready.body.checks.database).toEqual({ ok: true, detail: `sqlite:${join(s.dataDir, 'press.db')} (${sqliteDriver().name})` });
    } finally {
      await s.stop();
    }
  });

  it.runIf(!!PG_TEST_URL)('serves the API on PostgreSQL when DATABASE_URL is set, and closes its pool and listener on shutdown', async () => {
    const db = await createTestDatabase();
    try {
      const s = await startApiServer({ DATABASE_URL: db.url, PRESS_SECRET_KEY: 'ab'.repeat(32) });
      try {
        expect(s.deps.db).toBeInstanceOf(SqlDatabase);
        expect((s.deps.db as SqlDatabase).dialect.name).toBe('postgres');
        const created = await s.request('POST', '/v1/deploys', { json: { slug: 'invoices', name: 'Invoices' } });
        expect(created.status).toBe(201);
        const dup = await s.request('POST', '/v1/deploys', { json: { slug: 'invoices', name: 'Again' } });
        expect({ status: dup.status, error: dup.body?.error }).toEqual({ status: 409, error: 'deploy_slug_conflict' });
        const list = await s.request('GET', '/v1/deploys');
        expect(list.status).toBe(200);
        const ready = await s.request('GET', '/readyz', { key: null });
        expect(ready.status).toBe(200);
        const u = new URL(db.url);
        // host, port and database name; never the credentials
        expect(ready.body.checks.database).toEqual({ ok: true, detail: `postgres:${u.hostname}:${u.port}${u.pathname}` });
      } finally {
        await s.stop();
      }
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      try {
        const { rows } = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'press-cloud%'`);
        expect(rows[0].n).toBe(0);
      } finally {
        await admin.end();
      }
    } finally {
      await db.drop();
    }
  });

  if (!PG_TEST_URL) it.skip(PG_SKIP_REASON, () => {});
});
