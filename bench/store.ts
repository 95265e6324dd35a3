/**
 * The stores the store-level benchmarks (queue, quota) run on: an embedded SQLite file, or a fresh PostgreSQL database
 * with two nodes (connection pools) on it, and the parents every job references.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openPostgres } from '../src/adapters/postgres/index.js';
import type { SqlDatabase } from '../src/adapters/sql/database.js';
import { openSqlite } from '../src/adapters/sqlite/index.js';
import { newId } from '../src/domain/ids.js';
import type { PlanKey, RenderJobRecord } from '../src/model/records.js';
import type { RenderJobRepository } from '../src/ports/database.js';

export interface Node {
  store: SqlDatabase;
  queue: RenderJobRepository;
  close(): Promise<void>;
}

export interface Backend {
  name: string;
  /** where jobs are enqueued (the API node) */
  producer: Node;
  /** where they are claimed (the worker node; the same node on SQLite) */
  worker: Node;
  close(): Promise<void>;
}

export async function sqliteBackend(): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), 'press-bench-queue-'));
  const store = openSqlite(join(dir, 'press.db'));
  const node: Node = { store, queue: store.renderJobs, close: async () => {} };
  return {
    name: 'SQLite (WAL, synchronous=NORMAL)', producer: node, worker: node,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function postgresBackend(baseUrl: string): Promise<Backend> {
  const name = `press_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  const open = async (): Promise<Node> => {
    const db = await openPostgres(u.toString());
    return { store: db, queue: db.renderJobs, close: () => db.close() };
  };
  const producer = await open();
  const worker = await open();
  return {
    name: 'PostgreSQL (2 nodes, LISTEN/NOTIFY)', producer, worker,
    async close() {
      await producer.close();
      await worker.close();
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** SQLite, plus PostgreSQL when BENCH_DATABASE_URL or PRESS_TEST_DATABASE_URL is set */
export function backends(): (() => Promise<Backend>)[] {
  const url = process.env.BENCH_DATABASE_URL || process.env.PRESS_TEST_DATABASE_URL;
  if (url) return [sqliteBackend, () => postgresBackend(url)];
  process.stderr.write('PostgreSQL rows skipped: set BENCH_DATABASE_URL (or PRESS_TEST_DATABASE_URL) to a role that may CREATE DATABASE\n');
  return [sqliteBackend];
}

/** an account, a deploy and a committed version: the parents every job references */
export async function seed(store: SqlDatabase, planKey: PlanKey = 'unlimited') {
  const now = Date.now();
  const accountId = newId('acct', now);
  const deployId = newId('dpl', now);
  await store.accounts.create({ id: accountId, name: `bench-${randomBytes(3).toString('hex')}`, planKey, webhookSigningSecret: 'x', createdAt: now });
  await store.deploys.create({ id: deployId, accountId, slug: 'bench', name: 'bench', createdAt: now, deletedAt: null, webhookEnabled: false, webhookUrl: null, webhookSigningSecret: null });
  const session = {
    id: newId('us', now), accountId, deployId, status: 'open' as const, uploadTokenHash: randomBytes(8).toString('hex'), requestedFileCount: 1,
    requestedBytes: 1, createdAt: now, expiresAt: now + 3_600_000, committedAt: null, commitLockUntil: null, deployVersionId: null,
  };
  const files = [{ path: 'index.html', sha256: 'a'.repeat(64), size: 1, mime: 'text/html' }];
  await store.uploads.create(session, files);
  const versionId = newId('dv', now);
  await store.uploads.commit({ session, version: { id: versionId, accountId, deployId, fileCount: 1, bytes: 1, uploadSessionId: session.id, createdAt: now }, aliases: [], now });
  return { accountId, deployId, versionId };
}

export function job(parents: { accountId: string; deployId: string; versionId: string }): RenderJobRecord {
  const now = Date.now();
  return {
    id: newId('rj', now), accountId: parents.accountId, deployId: parents.deployId, deployVersionId: parents.versionId, businessKey: null,
    entry: 'index.html', fileName: 'out.pdf', outputMode: 'transient', status: 'queued', attempt: 0, maxAttempts: 3, timeoutMs: 60_000,
    requestedAt: now, startedAt: null, finishedAt: null, nextAttemptAt: null, leaseOwner: null, leaseExpiresAt: null, errorCode: null,
    errorMessage: null, outputKey: null, outputBytes: null, outputPageCount: null, outputExpiresAt: null, outputDeletedAt: null, pdfId: null,
    renderTimeMs: null, webhookPending: false, diagnostics: null, pdfOptions: null,
  };
}

export const PAYLOAD = { mime: 'application/json', body: Buffer.from('{"n":1}') };
