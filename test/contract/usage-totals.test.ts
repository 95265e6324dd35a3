import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { pgTypes } from '../../src/adapters/postgres/executor.js';
import { openPostgres } from '../../src/adapters/postgres/index.js';
import { migratePostgres } from '../../src/adapters/postgres/migrate.js';
import { openSqliteFile } from '../../src/adapters/sqlite/driver.js';
import { openSqlite } from '../../src/adapters/sqlite/index.js';
import { migrate as migrateSqlite } from '../../src/adapters/sqlite/migrate.js';
import type { SqlDatabase } from '../../src/adapters/sql/database.js';
import { billPeriod } from '../../src/domain/policy.js';
import type { UsageMeterCode } from '../../src/model/records.js';
import { BACKENDS, createTestDatabase } from '../helpers/backends.js';

/*
 * Migration 013 adds the running totals per (account, meter, bill period) that quota checks read. An existing
 * database must come out of it with every period's total equal to the sum of that period's ledger rows (the period
 * as the domain's billPeriod computes it, on both sides of month and year boundaries), and the totals must go on
 * from there for every insert into the ledger.
 */

const MIGRATIONS = {
  sqlite: fileURLToPath(new URL('../../src/adapters/sqlite/migrations/', import.meta.url)),
  postgres: fileURLToPath(new URL('../../src/adapters/postgres/migrations/', import.meta.url)),
};

/** a folder with the dialect's migrations before 013: the schema of a database made by the previous release */
function migrationsBefore13(dialect: keyof typeof MIGRATIONS): string {
  const dir = mkdtempSync(join(tmpdir(), 'press-migrations-'));
  for (const f of readdirSync(MIGRATIONS[dialect]).filter((f) => /^\d{3}-/.test(f) && Number(f.slice(0, 3)) < 13)) {
    cpSync(join(MIGRATIONS[dialect], f), join(dir, f));
  }
  return dir;
}

const utc = (y: number, m: number, d: number, h = 0, min = 0, s = 0, ms = 0) => Date.UTC(y, m - 1, d, h, min, s, ms);

/** ledger rows on both sides of month (and year) boundaries, a leap day, and a quantity beyond 32 bits */
const LEDGER: [account: string, meter: UsageMeterCode, quantity: number, at: number][] = [
  ['acct_a', 'render_jobs', 1, utc(2024, 12, 31, 23, 59, 59, 999)],
  ['acct_a', 'render_jobs', 1, utc(2025, 1, 1)],
  ['acct_a', 'render_jobs', 1, utc(2025, 1, 1)], // identical rows are legitimate (two jobs in one millisecond)
  ['acct_a', 'render_jobs', 1, utc(2025, 1, 31, 23, 59, 59, 999)],
  ['acct_a', 'render_jobs', 1, utc(2025, 2, 1)],
  ['acct_a', 'render_time_ms', 3_000_000_000, utc(2025, 1, 15, 12)],
  ['acct_a', 'render_time_ms', 1234, utc(2025, 1, 20)],
  ['acct_a', 'render_time_ms', 77, utc(2024, 2, 29, 12)],
  ['acct_a', 'deploy_commits', 1, utc(2024, 3, 1)],
  ['acct_b', 'render_jobs', 5, utc(2025, 1, 10)],
  ['acct_b', 'render_time_ms', 40, utc(2025, 1, 31, 23, 59, 59, 999)],
];

/** the ledger's sum per (account, meter, period), computed here with the domain's own period */
function expectedTotals() {
  const sums = new Map<string, number>();
  for (const [a, m, q, at] of LEDGER) {
    const k = `${a}|${m}|${billPeriod(at).start}`;
    sums.set(k, (sums.get(k) ?? 0) + q);
  }
  return [...sums].map(([k, quantity]) => {
    const [accountId, meter, start] = k.split('|');
    return { accountId, meter, periodStart: Number(start), quantity };
  }).sort(byKey);
}
const byKey = (x: { accountId: string; meter: string; periodStart: number }, y: typeof x) =>
  x.accountId.localeCompare(y.accountId) || x.meter.localeCompare(y.meter) || x.periodStart - y.periodStart;

const SEED_ACCOUNTS = `INSERT INTO accounts (id, name, plan_key, webhook_signing_secret, created_at) VALUES ('acct_a', 'a', 'free', 'x', 0), ('acct_b', 'b', 'free', 'x', 0)`;

/** each period's total: the sum of its shards */
async function totals(db: SqlDatabase) {
  const rows = await db.sql.all('SELECT account_id, meter, period_start, sum(quantity) AS quantity FROM usage_totals GROUP BY account_id, meter, period_start');
  return rows.map((r) => ({ accountId: r.account_id as string, meter: r.meter as string, periodStart: Number(r.period_start), quantity: Number(r.quantity) })).sort(byKey);
}

/** what the migrated store answers and records: the totals read back, then go on from the migrated value */
async function checkMigratedStore(db: SqlDatabase) {
  expect(await totals(db)).toEqual(expectedTotals());
  const jan = billPeriod(utc(2025, 1, 1)).start;
  expect(await db.usage.periodTotal('acct_a', 'render_jobs', jan)).toBe(3);
  expect(await db.usage.periodTotal('acct_a', 'render_time_ms', jan)).toBe(3_000_001_234);
  expect(await db.usage.periodTotal('acct_b', 'render_jobs', jan)).toBe(5);
  expect(await db.usage.periodTotal('acct_b', 'deploy_commits', jan)).toBe(0);
  await db.usage.record('acct_a', 'render_jobs', 1, utc(2025, 1, 31, 23, 59, 59, 999));
  await db.usage.record('acct_a', 'render_jobs', 1, utc(2025, 2, 1));
  expect(await db.usage.periodTotal('acct_a', 'render_jobs', jan)).toBe(4);
  expect(await db.usage.periodTotal('acct_a', 'render_jobs', billPeriod(utc(2025, 2, 1)).start)).toBe(2);
  // a node still on the previous release writes the ledger row alone (a rolling upgrade): the total counts it too
  await db.sql.run('INSERT INTO usage_records (account_id, meter, quantity, occurred_at) VALUES (?, ?, ?, ?)', ['acct_b', 'render_jobs', 2, utc(2025, 1, 31)]);
  expect(await db.usage.periodTotal('acct_b', 'render_jobs', jan)).toBe(7);
}

describe('migration 013: usage totals filled from an existing ledger', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('sqlite', async () => {
    const before = migrationsBefore13('sqlite');
    const dir = mkdtempSync(join(tmpdir(), 'press-usage-totals-'));
    cleanup.push(() => rmSync(before, { recursive: true, force: true }), () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'press.db');
    const old = openSqliteFile(file);
    migrateSqlite(old, before);
    old.exec(SEED_ACCOUNTS);
    for (const row of LEDGER) old.run('INSERT INTO usage_records (account_id, meter, quantity, occurred_at) VALUES (?, ?, ?, ?)', row);
    old.close();

    const db = openSqlite(file); // applies 013, as the new release does at start
    cleanup.push(() => db.close());
    await checkMigratedStore(db);
  });

  const postgres = BACKENDS.find(([name]) => name === 'postgres')![1];
  it.skipIf(!postgres.available)('postgres', async () => {
    const before = migrationsBefore13('postgres');
    cleanup.push(() => rmSync(before, { recursive: true, force: true }));
    const target = await createTestDatabase();
    cleanup.push(() => target.drop());
    const pool = new pg.Pool({ connectionString: target.url, max: 1, types: pgTypes });
    await migratePostgres(pool, before);
    await pool.query(SEED_ACCOUNTS);
    for (const row of LEDGER) await pool.query('INSERT INTO usage_records (account_id, meter, quantity, occurred_at) VALUES ($1, $2, $3, $4)', row);
    await pool.end();

    const db = await openPostgres(target.url, { max: 2 });
    cleanup.push(() => db.close());
    await checkMigratedStore(db);
  });
});
