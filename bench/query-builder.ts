/**
 * Does a query builder earn its place? Times the hot-path statements of the render queue three ways on the same
 * database: our executor (SQL text, SQLite statements prepared once and cached), the raw driver preparing on every call
 * (what Kysely's SQLite driver does), and Kysely itself (build + compile + execute). docs/architecture.md has the
 * figures and the decision. Kysely is not a dependency; install it beside the checkout to run this:
 *
 *   npm install --no-save kysely && node --import tsx bench/query-builder.ts
 *   (PostgreSQL rows too when PRESS_TEST_DATABASE_URL is set)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openPostgres } from '../src/adapters/postgres/index.js';
import type { SqlDatabase } from '../src/adapters/sql/database.js';
import { openSqlite } from '../src/adapters/sqlite/index.js';
import { newId } from '../src/domain/ids.js';

// the module is optional (not a dependency), so it is loaded by name and typed loosely
type Any = any;
const kyselyModule = process.env.KYSELY_MODULE ?? 'kysely';

async function seed(db: SqlDatabase, jobs: number): Promise<string[]> {
  const now = Date.now();
  const accountId = newId('acct', now);
  const deployId = newId('dpl', now);
  const versionId = newId('dv', now);
  await db.accounts.create({ id: accountId, name: `qb-${accountId}`, planKey: 'unlimited', webhookSigningSecret: 'x', createdAt: now });
  await db.deploys.create({ id: deployId, accountId, slug: 'qb', name: 'qb', createdAt: now, deletedAt: null, webhookEnabled: false, webhookUrl: null, webhookSigningSecret: null });
  const session = {
    id: newId('us', now), accountId, deployId, status: 'open' as const, uploadTokenHash: 'h', requestedFileCount: 1, requestedBytes: 1,
    createdAt: now, expiresAt: now + 3_600_000, committedAt: null, commitLockUntil: null, deployVersionId: null,
  };
  await db.uploads.create(session, [{ path: 'index.html', sha256: 'a'.repeat(64), size: 1, mime: 'text/html' }]);
  await db.uploads.commit({ session, version: { id: versionId, accountId, deployId, fileCount: 1, bytes: 1, uploadSessionId: session.id, createdAt: now }, aliases: [], now });
  const ids: string[] = [];
  for (let i = 0; i < jobs; i++) {
    const id = newId('rj', now + i);
    ids.push(id);
    await db.renderJobs.enqueue({
      id, accountId, deployId, deployVersionId: versionId, businessKey: null, entry: 'index.html', fileName: 'out.pdf', outputMode: 'transient',
      status: 'rendering', attempt: 1, maxAttempts: 3, timeoutMs: 60_000, requestedAt: now + i, startedAt: now, finishedAt: null, nextAttemptAt: null,
      leaseOwner: 'w1', leaseExpiresAt: now + 60_000, errorCode: null, errorMessage: null, outputKey: null, outputBytes: null, outputPageCount: null,
      outputExpiresAt: null, outputDeletedAt: null, pdfId: null, renderTimeMs: null, webhookPending: false, diagnostics: null, pdfOptions: null,
    }, { mime: 'application/json', body: Buffer.from('{}') });
  }
  return ids;
}

type Call = ((i: number) => Promise<unknown> | unknown) | null;

/** µs per call of each contender, best of 5 rounds; the rounds interleave them so a busy moment hurts all alike */
async function compare(n: number, calls: Call[]): Promise<(number | null)[]> {
  const best = calls.map((c) => (c ? Infinity : null));
  for (let round = 0; round < 5; round++) {
    for (const [k, fn] of calls.entries()) {
      if (!fn) continue;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await fn(i);
      best[k] = Math.min(best[k]!, Number(process.hrtime.bigint() - t0) / 1000 / n);
    }
  }
  return best;
}

const GET = 'SELECT * FROM render_jobs WHERE id = ?';
const HEARTBEAT = `UPDATE render_jobs SET lease_expires_at = ? WHERE id = ? AND status = 'rendering' AND lease_owner = ?`;

async function main() {
  const { Kysely, SqliteDialect, PostgresDialect } = (await import(kyselyModule)) as Any;
  const rows: string[] = [];
  const row = (backend: string, what: string, figures: (number | null)[]) =>
    rows.push(`| ${backend} | ${what} | ${figures.map((f) => (f === null ? '–' : f.toFixed(1))).join(' | ')} |`);

  const dir = mkdtempSync(join(tmpdir(), 'press-qb-'));
  const lite = openSqlite(join(dir, 'press.db'));
  const ids = await seed(lite, 1000);
  // the raw driver, and Kysely's SQLite dialect, on better-sqlite3 (the executor may run on node:sqlite: driver.ts)
  const raw = new Database(join(dir, 'press.db'));
  const k = new Kysely({ dialect: new SqliteDialect({ database: raw }) });
  const n = 20_000;
  const id = (i: number) => ids[i % ids.length];
  row('SQLite', 'get a job by id', await compare(n, [
    (i) => lite.renderJobs.getById(id(i)),
    (i) => raw.prepare(GET).get(id(i)),
    (i) => k.selectFrom('render_jobs').selectAll().where('id', '=', id(i)).executeTakeFirst(),
  ]));
  row('SQLite', 'heartbeat (conditional UPDATE)', await compare(n, [
    (i) => lite.renderJobs.heartbeat(id(i), 'w1', Date.now() + 60_000),
    (i) => raw.prepare(HEARTBEAT).run(Date.now() + 60_000, id(i), 'w1'),
    (i) => k.updateTable('render_jobs').set({ lease_expires_at: Date.now() + 60_000 })
      .where('id', '=', id(i)).where('status', '=', 'rendering').where('lease_owner', '=', 'w1').executeTakeFirst(),
  ]));
  await k.destroy();
  raw.close();
  await lite.close();
  rmSync(dir, { recursive: true, force: true });

  const base = process.env.PRESS_TEST_DATABASE_URL;
  if (base) {
    const name = `press_qb_${Date.now().toString(36)}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const u = new URL(base);
    u.pathname = `/${name}`;
    const db = await openPostgres(u.toString(), { max: 4 });
    try {
      const pids = await seed(db, 200);
      const pool = new pg.Pool({ connectionString: u.toString(), max: 4 });
      const kp = new Kysely({ dialect: new PostgresDialect({ pool }) });
      const m = 1000;
      const pid = (i: number) => pids[i % pids.length];
      row('PostgreSQL', 'get a job by id', await compare(m, [
        (i) => db.renderJobs.getById(pid(i)),
        null,
        (i) => kp.selectFrom('render_jobs').selectAll().where('id', '=', pid(i)).executeTakeFirst(),
      ]));
      row('PostgreSQL', 'heartbeat (conditional UPDATE)', await compare(m, [
        (i) => db.renderJobs.heartbeat(pid(i), 'w1', Date.now() + 60_000),
        null,
        (i) => kp.updateTable('render_jobs').set({ lease_expires_at: Date.now() + 60_000 })
          .where('id', '=', pid(i)).where('status', '=', 'rendering').where('lease_owner', '=', 'w1').executeTakeFirst(),
      ]));
      await kp.destroy();
    } finally {
      await db.close();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  }
  process.stdout.write(`| backend | statement | ours µs | driver, prepare per call µs | Kysely µs |\n|---|---|---|---|---|\n${rows.join('\n')}\n`);
}

await main();
