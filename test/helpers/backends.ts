import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { openPostgres } from '../../src/adapters/postgres/index.js';
import { openSqlite } from '../../src/adapters/sqlite/index.js';
import type {
  AccountRecord, DeployRecord, DeployVersionRecord, FileEntry, RenderJobRecord, UploadSessionRecord,
} from '../../src/model/records.js';
import type { Database, RenderJobRepository } from '../../src/ports/database.js';

/**
 * Port backends for contract tests. SQLite always runs (a temp file per test). PostgreSQL runs when
 * PRESS_TEST_DATABASE_URL points at a server whose role may CREATE DATABASE (.ci/run sets it up): each test file gets
 * a fresh `press_test_<random>` database, every test starts from empty tables, and the database is dropped at the end.
 */
export const PG_TEST_URL = process.env.PRESS_TEST_DATABASE_URL || null;
export const PG_SKIP_REASON = 'PostgreSQL leg skipped: PRESS_TEST_DATABASE_URL is not set (.ci/run sets it; see test/helpers/backends.ts)';

export type BackendName = 'sqlite' | 'postgres';

/** One process's view of the data: what a node holds (`queue` is `store.renderJobs`, named for what the tests do). */
export interface Node {
  store: Database;
  queue: RenderJobRepository;
  close(): Promise<void>;
}

export interface Backend {
  name: BackendName;
  available: boolean;
  skipReason: string | null;
  /** notifications reach other processes (PostgreSQL LISTEN/NOTIFY); SQLite wakes only its own process */
  crossNodeEvents: boolean;
}

export const BACKENDS: [BackendName, Backend][] = [
  ['sqlite', { name: 'sqlite', available: true, skipReason: null, crossNodeEvents: false }],
  ['postgres', { name: 'postgres', available: !!PG_TEST_URL, skipReason: PG_TEST_URL ? null : PG_SKIP_REASON, crossNodeEvents: true }],
];

if (!PG_TEST_URL) console.warn(`\n  ⚠ ${PG_SKIP_REASON}\n`);

function urlWithDatabase(base: string, database: string): string {
  const u = new URL(base);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates an empty database on the test server; `drop()` removes it (closing any sessions still on it). */
export async function createTestDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  if (!PG_TEST_URL) throw new Error(PG_SKIP_REASON);
  const name = `press_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_TEST_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
    // test data need not survive a crash: commits stop waiting for the disk, which makes the suite several times faster
    await admin.query(`ALTER DATABASE ${name} SET synchronous_commit = off`);
  } finally {
    await admin.end();
  }
  return {
    url: urlWithDatabase(PG_TEST_URL, name),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: PG_TEST_URL! });
      await c.connect();
      try {
        // FORCE ends the database's other sessions, but on PostgreSQL < 17 a role that is not superuser may not end an
        // autovacuum worker (42501, "must be a member of the role whose process is being terminated"): one that is
        // vacuuming the test's tables at this moment is waited for, it takes milliseconds
        for (let attempt = 1; ; attempt++) {
          try {
            await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
            break;
          } catch (err) {
            if ((err as { code?: string }).code !== '42501' || attempt === 40) throw err;
            await new Promise((r) => setTimeout(r, 250));
          }
        }
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * Registers hooks for a contract suite: a fresh, empty store for each test, plus `node()` for opening more nodes
 * (separate connections/pools and, on PostgreSQL, separate LISTEN sessions) on the same data.
 */
export function useBackend(backend: Backend) {
  const opened: Node[] = [];
  let current: Node | null = null;
  let pgDb: Awaited<ReturnType<typeof createTestDatabase>> | null = null;
  let sqliteDir: string | null = null;
  let sqliteFile = '';
  /** one connection per file that empties the tables before each test */
  let cleaner: pg.Client | null = null;

  const openNode = async (): Promise<Node> => {
    const db = backend.name === 'postgres' ? await openPostgres(pgDb!.url, { max: 5 }) : openSqlite(sqliteFile);
    const node: Node = { store: db, queue: db.renderJobs, close: () => db.close() };
    opened.push(node);
    return node;
  };

  beforeAll(async () => {
    if (backend.name === 'postgres') pgDb = await createTestDatabase();
  });
  afterAll(async () => {
    await cleaner?.end();
    await pgDb?.drop();
  });
  beforeEach(async () => {
    if (backend.name === 'postgres') {
      if (!cleaner) {
        cleaner = new pg.Client({ connectionString: pgDb!.url });
        await cleaner.connect();
      }
      // DELETE, not TRUNCATE: on tables this small it is ~10x faster (TRUNCATE swaps and syncs every file).
      // Newest table first, so rows that reference others go before the rows they reference.
      const { rows } = await cleaner.query<{ t: string }>(
        `SELECT c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'r' AND n.nspname = current_schema() AND c.relname <> 'schema_migrations' ORDER BY c.oid DESC`,
      );
      if (rows.length) await cleaner.query(rows.map((r) => `DELETE FROM ${r.t};`).join(' '));
    } else {
      sqliteDir = mkdtempSync(join(tmpdir(), 'press-contract-'));
      sqliteFile = join(sqliteDir, 'press.db');
    }
    current = await openNode();
  });
  afterEach(async () => {
    for (const n of opened.splice(0)) await n.close();
    current = null;
    if (sqliteDir) rmSync(sqliteDir, { recursive: true, force: true });
    sqliteDir = null;
  });

  return {
    get store(): Database {
      return current!.store;
    },
    get queue(): RenderJobRepository {
      return current!.queue;
    },
    /** another node on the same data (closed after the test) */
    node: openNode,
    /** the test database's URL (PostgreSQL) */
    get url(): string | null {
      return pgDb?.url ?? null;
    },
  };
}

// ---- fixtures: records with every field, overridable ----

let seq = 0;
/** unique, time-ordered-looking ids for fixtures (ids need not match the API's pattern here) */
export function fid(prefix: string): string {
  seq++;
  return `${prefix}_${String(seq).padStart(6, '0')}_${randomBytes(3).toString('hex')}`;
}

export const T0 = 1_750_000_000_000;

export function account(over: Partial<AccountRecord> = {}): AccountRecord {
  const id = over.id ?? fid('acct');
  return { id, name: `name-${id}`, planKey: 'unlimited', webhookSigningSecret: 'enc:secret', createdAt: T0, personalUserId: null, disabledAt: null, ...over };
}

export function deploy(accountId: string, over: Partial<DeployRecord> = {}): DeployRecord {
  const id = over.id ?? fid('dpl');
  return {
    id, accountId, slug: `slug-${id}`, name: 'A deploy', createdAt: T0, deletedAt: null,
    webhookEnabled: false, webhookUrl: null, webhookSigningSecret: null, ...over,
  };
}

export function session(accountId: string, deployId: string, over: Partial<UploadSessionRecord> = {}): UploadSessionRecord {
  return {
    id: fid('us'), accountId, deployId, status: 'open', uploadTokenHash: `h-${randomBytes(4).toString('hex')}`,
    requestedFileCount: 1, requestedBytes: 10, createdAt: T0, expiresAt: T0 + 3_600_000, committedAt: null,
    commitLockUntil: null, deployVersionId: null, ...over,
  };
}

export function file(path: string, sha: string, size = 10, mime = 'text/html'): FileEntry {
  return { path, sha256: sha.padEnd(64, '0'), size, mime };
}

/** An account with one deploy (its version optional): the parents every render job needs. */
/** `webhook`: the deploy has its webhook on (terminal transitions then leave it pending) */
export async function seedDeploy(store: Database, opts: { planKey?: AccountRecord['planKey']; webhook?: boolean } = {}) {
  const a = account({ planKey: opts.planKey ?? 'unlimited' });
  await store.accounts.create(a);
  const d = deploy(a.id, opts.webhook ? { webhookEnabled: true, webhookUrl: 'https://hooks.example/press' } : {});
  await store.deploys.create(d);
  return { account: a, deploy: d };
}

/** Commits an upload session with `files` as a new version of the deploy. */
export async function seedVersion(
  store: Database, accountId: string, deployId: string, files: FileEntry[] = [file('index.html', 'aa')], opts: { at?: number; aliases?: string[] } = {},
): Promise<DeployVersionRecord> {
  const at = opts.at ?? T0;
  const s = session(accountId, deployId, { createdAt: at });
  await store.uploads.create(s, files);
  const version: DeployVersionRecord = {
    id: fid('dv'), accountId, deployId, fileCount: files.length, bytes: files.reduce((n, f) => n + f.size, 0), uploadSessionId: s.id, createdAt: at,
  };
  await store.uploads.commit({ session: s, version, aliases: opts.aliases ?? [], now: at });
  return version;
}

/** Everything a render job needs in place: account, deploy, version. */
export async function seedJobParents(store: Database, opts: { planKey?: AccountRecord['planKey']; webhook?: boolean } = {}) {
  const { account: a, deploy: d } = await seedDeploy(store, opts);
  const v = await seedVersion(store, a.id, d.id);
  return { accountId: a.id, deployId: d.id, versionId: v.id };
}

export function renderJob(parents: { accountId: string; deployId: string; versionId: string }, over: Partial<RenderJobRecord> = {}): RenderJobRecord {
  return {
    id: fid('rj'), accountId: parents.accountId, deployId: parents.deployId, deployVersionId: parents.versionId,
    businessKey: null, entry: 'index.html', fileName: 'out.pdf', outputMode: 'transient', status: 'queued',
    attempt: 0, maxAttempts: 3, timeoutMs: 60_000, requestedAt: T0, startedAt: null, finishedAt: null, nextAttemptAt: null,
    leaseOwner: null, leaseExpiresAt: null, errorCode: null, errorMessage: null, outputKey: null, outputBytes: null,
    outputPageCount: null, outputExpiresAt: null, outputDeletedAt: null, pdfId: null, renderTimeMs: null, webhookPending: false, diagnostics: null,
    pdfOptions: null, ...over,
  };
}

export const payload = (text = '{"a":1}') => ({ mime: 'application/json', body: Buffer.from(text) });
