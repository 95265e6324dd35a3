import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decode, deploys, encodeValue } from '../../src/adapters/sql/catalogue.js';
import { openSqliteFile, SqliteDriverError, sqliteDriver } from '../../src/adapters/sqlite/driver.js';
import { SqliteExecutor } from '../../src/adapters/sqlite/executor.js';
import { migrate } from '../../src/adapters/sqlite/migrate.js';
import { ConflictError } from '../../src/model/errors.js';
import { isDependencyOutage } from '../../src/model/unavailable.js';

/*
 * The embedded store runs on node:sqlite where Node has it (22.16+, 24+) and on better-sqlite3 before (Node 20):
 * CI runs the whole suite on Node 20 and on Node 24, so every SQLite suite passes on both. This file pins what the
 * two must agree on beyond the contract suites: which one is picked, and the values whose encodings differ.
 */
const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
const expected = major > 22 || (major === 22 && minor >= 16) ? 'node:sqlite' : 'better-sqlite3';

describe(`the SQLite driver on Node ${process.versions.node}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'press-sqlite-driver-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`is ${expected}`, () => {
    expect(sqliteDriver().name).toBe(expected);
    expect(openSqliteFile(':memory:').driver).toBe(expected);
  });

  it('returns plain rows: BLOB as Buffer, INTEGER as number (rounded beyond 2^53, never an error), booleans as 0/1', async () => {
    const x = new SqliteExecutor(openSqliteFile(':memory:'));
    await x.run('CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB, n INTEGER, f REAL, flag INTEGER, s TEXT)');
    const body = Buffer.from([0, 1, 2, 255]);
    await x.run('INSERT INTO t (body, n, f, flag, s) VALUES (?, ?, ?, ?, ?)', [body, Number.MAX_SAFE_INTEGER, 0.5, encodeValue(true), 'é']);
    await x.run('INSERT INTO t (body, n, f, flag, s) VALUES (?, ?, ?, ?, ?)', [new Uint8Array([7]), 2n ** 60n + 1n, null, encodeValue(false), null]);
    const [a, b] = await x.all('SELECT * FROM t ORDER BY id');
    expect(Object.getPrototypeOf(a)).toBe(Object.prototype);
    expect(a).toEqual({ id: 1, body, n: Number.MAX_SAFE_INTEGER, f: 0.5, flag: 1, s: 'é' });
    expect(Buffer.isBuffer(a!.body)).toBe(true);
    expect(Buffer.isBuffer(b!.body)).toBe(true);
    expect(b).toEqual({ id: 2, body: Buffer.from([7]), n: Number(2n ** 60n + 1n), f: null, flag: 0, s: null });
    expect(await x.one('SELECT sum(n) AS n, count(*) AS c FROM t WHERE id = 1')).toEqual({ n: Number.MAX_SAFE_INTEGER, c: 1 });
    expect(await x.one('SELECT * FROM t WHERE id = ?', [99])).toBeUndefined();
    await x.close();
  });

  it('reads a boolean column back as a boolean through the catalogue', async () => {
    const x = new SqliteExecutor(openSqliteFile(':memory:'));
    migrate(x.db);
    await x.run(`INSERT INTO accounts (id, name, plan_key, webhook_signing_secret, created_at) VALUES ('acct_1', 'a', 'free', 's', 1)`);
    for (const [id, on] of [['dpl_1', true], ['dpl_2', false]] as const) {
      await x.run(`INSERT INTO deploys (id, account_id, slug, name, created_at, webhook_enabled) VALUES (?, 'acct_1', ?, 'd', 1, ?)`, [id, id, encodeValue(on)]);
      expect(decode(deploys, await x.one('SELECT * FROM deploys WHERE id = ?', [id]))?.webhookEnabled).toBe(on);
    }
    await x.close();
  });

  it('counts the rows a write with RETURNING changed, and a unique violation is a ConflictError', async () => {
    const x = new SqliteExecutor(openSqliteFile(':memory:'));
    await x.run('CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, n INTEGER)');
    await x.run(`INSERT INTO t (k, n) VALUES ('a', 1), ('b', 2), ('c', 30)`);
    expect(await x.run('UPDATE t SET n = n + 1 WHERE n < 10 RETURNING id')).toBe(2);
    expect(await x.one('UPDATE t SET n = 0 WHERE k = ? RETURNING k, n', ['c'])).toEqual({ k: 'c', n: 0 });
    await expect(x.run(`INSERT INTO t (k) VALUES ('a')`)).rejects.toBeInstanceOf(ConflictError);
    await expect(x.run(`INSERT INTO t (id, k) VALUES (1, 'z')`)).rejects.toBeInstanceOf(ConflictError);
    await x.close();
  });

  it("names SQLite's failures as better-sqlite3 does: a locked file is SQLITE_BUSY, a dependency outage", async () => {
    const file = join(dir, 'busy.db');
    const holder = openSqliteFile(file);
    const other = openSqliteFile(file);
    holder.exec('CREATE TABLE t (n INTEGER)');
    other.exec('PRAGMA busy_timeout = 0');
    holder.exec('BEGIN IMMEDIATE');
    let err: unknown;
    try {
      other.run('INSERT INTO t (n) VALUES (1)');
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe('SQLITE_BUSY');
    expect(isDependencyOutage(err)).toBe(true);
    expect(holder.inTransaction).toBe(true);
    holder.exec('ROLLBACK');
    expect(holder.inTransaction).toBe(false);
    expect(() => other.exec('NOT SQL')).toThrow(expect.objectContaining({ code: 'SQLITE_ERROR' }));
    holder.close();
    other.close();
  });

  it('without a driver (Node 20, better-sqlite3 missing or built for another Node) says so in one line', () => {
    const missing = Object.assign(new Error("Cannot find module 'better-sqlite3'\nRequire stack:\n- /srv/dist/adapters/sqlite/driver.js"), { code: 'MODULE_NOT_FOUND' });
    const err = new SqliteDriverError(missing);
    expect(err.name).toBe('SqliteDriverError');
    expect(err.message).not.toContain('\n');
    expect(err.message).not.toContain('Require stack');
    expect(err.message).toContain(`SQLite on Node ${process.versions.node} needs the better-sqlite3 package`);
    expect(err.message).toContain("(Cannot find module 'better-sqlite3')");
    expect(err.message).toMatch(/npm install better-sqlite3.*Node 22\.16 or later.*PostgreSQL \(DATABASE_URL\)\.$/);
    const wrongAbi = Object.assign(new Error("The module '/x/better_sqlite3.node'\nwas compiled against a different Node.js version using\nNODE_MODULE_VERSION 115."), { code: 'ERR_DLOPEN_FAILED' });
    expect(new SqliteDriverError(wrongAbi).message).toContain('was compiled against a different Node.js version using NODE_MODULE_VERSION 115)');
  });
});
