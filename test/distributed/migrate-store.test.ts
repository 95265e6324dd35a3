/**
 * `press-cloud migrate-store`: an embedded installation (SQLite + disk) with a deploy, two versions, an alias,
 * secrets, extra keys and rendered outputs is copied into PostgreSQL + S3; a server started on the copy serves the
 * same deploy, versions, PDFs (byte for byte) and API keys, and renders with the migrated blobs and secrets.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/start/server.js';
import { PG_SKIP_REASON, PG_TEST_URL, createTestDatabase } from '../helpers/backends.js';
import { deployDir } from '../helpers/deploy-dir.js';
import { pdfText } from '../helpers/pdf.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import type { TestServer } from '../helpers/server.js';
import { PROBE_DIR, httpClient, type Requester } from '../render/support.js';
import { runCli } from './support.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function bytes(url: string, key: string) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

if (!PG_TEST_URL) {
  describe('press-cloud migrate-store', () => {
    it.skip(`skipped: ${PG_SKIP_REASON}`, () => {});
  });
}

describe.skipIf(!PG_TEST_URL)('press-cloud migrate-store', () => {
  let dataDir = '';
  let emptyDir = '';
  let db: Awaited<ReturnType<typeof createTestDatabase>> | null = null;
  let s3: S3TestServer | null = null;
  let server: RunningServer | null = null;
  let sql: pg.Client | null = null;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'press-migrate-src-'));
    emptyDir = mkdtempSync(join(tmpdir(), 'press-migrate-node-'));
    db = await createTestDatabase();
    s3 = await startS3Server({ bucket: 'press-migrate' });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  });
  afterAll(async () => {
    await server?.close({ abort: true });
    await sql?.end();
    await s3?.stop();
    await db?.drop();
    for (const d of [dataDir, emptyDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('copies metadata and verified blobs; a PostgreSQL + S3 server then serves the same deploys, PDFs and keys', async () => {
    // ---- an embedded installation with some history ----
    const embedded = await startServer(loadConfig({ PORT: '0', HOST: '127.0.0.1', PRESS_DATA_DIR: dataDir, LOG_LEVEL: 'warn' }), { logger: false });
    server = embedded;
    const admin = embedded.bootstrapKey!;
    const api = httpClient(embedded.url, admin);
    const v1 = await deployDir(api as unknown as TestServer, PROBE_DIR, { slug: 'probe' });
    const deployId = v1.deployId;
    const settings = await api.request('PATCH', `/v1/deploys/${deployId}/settings`, { json: { env: { GREETING: 'hello-from-sqlite' }, secrets: { API_TOKEN: 'tok-migrated-42' } } });
    expect(settings.status, settings.text).toBe(200);
    const v2 = await deployDir(api as unknown as TestServer, PROBE_DIR, { deployId }, { aliases: ['preview'] });
    const editor = (await api.request('POST', '/v1/api-keys', { json: { name: 'ci', role: 'editor' } })).body.key as string;
    const managed = (await api.request('POST', '/v1/render-jobs?wait=30', { json: { deployId, entry: 'env.html', outputMode: 'managed' } })).body.job;
    expect(managed.status).toBe('succeeded');
    const transient = (await api.request('POST', '/v1/render-jobs?wait=30', { json: { deployId, entry: 'payload.html', payload: { label: 'transient' } } })).body.job;
    expect(transient.status).toBe('succeeded');
    const pdfBefore = await bytes(`${embedded.url}/v1/pdfs/${managed.output.pdfId}/content`, admin);
    expect(pdfBefore.status).toBe(200);
    const outputBefore = await bytes(`${embedded.url}/v1/render-jobs/${transient.id}/output`, admin);
    expect(outputBefore.status).toBe(200);
    const usageBefore = (await api.request('GET', '/v1/usage')).body;
    await embedded.close();
    server = null;

    const secretKey = readFileSync(join(dataDir, 'secret.key'), 'utf8').trim();
    const env = { ...s3!.env, DATABASE_URL: db!.url, PRESS_SECRET_KEY: secretKey, PRESS_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };

    // ---- refused: another secret key (the migrated secrets would be unreadable) ----
    const wrongKey = await runCli(['migrate-store'], { ...env, PRESS_SECRET_KEY: randomBytes(32).toString('hex') }).catch((e) => e);
    expect(wrongKey.code).toBe(2);
    expect(wrongKey.stderr).toMatch(/PRESS_SECRET_KEY differs from the embedded store's key/);

    // ---- the copy (PRESS_DATA_DIR is the default source) ----
    const first = await runCli(['migrate-store', '--batch-size', '7'], env);
    expect(first.stdout).toMatch(/^done: 1 account\(s\), \d+ new rows, 0 rows already there, \d+ objects copied, 0 already there/m);
    const copied = Number(/(\d+) objects copied/.exec(first.stdout)![1]);
    expect(copied).toBeGreaterThanOrEqual(v1.files.length + 2); // app blobs + the PDF + the transient output
    const count = async (t: string) => Number((await sql!.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n);
    const after1: Record<string, number> = {};
    for (const t of ['accounts', 'api_keys', 'deploy_versions', 'render_jobs', 'pdfs', 'usage_records', 'deploy_vars', 'aliases']) after1[t] = await count(t);
    expect(after1).toMatchObject({ accounts: 1, api_keys: 2, deploy_versions: 2, render_jobs: 2, pdfs: 1, deploy_vars: 2, aliases: 1 });

    // ---- again: nothing new, nothing duplicated (the usage ledger has no key) ----
    const second = await runCli(['migrate-store', '--from-data-dir', dataDir], env);
    expect(second.stdout).toMatch(new RegExp(`^done: 1 account\\(s\\), 0 new rows, \\d+ rows already there, 0 objects copied, ${copied} already there`, 'm'));
    for (const t of Object.keys(after1)) expect(await count(t), t).toBe(after1[t]);

    // ---- refused: the target holds an account the source does not have; --force merges anyway ----
    await sql!.query(`INSERT INTO accounts (id, name, plan_key, webhook_signing_secret, created_at) VALUES ('acct_stranger', 'stranger', 'free', 'x', 1)`);
    const refused = await runCli(['migrate-store'], env).catch((e) => e);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/already holds 1 account\(s\) that are not in the embedded store \(stranger acct_stranger\)/);
    await runCli(['migrate-store', '--force'], env);
    expect(await count('accounts')).toBe(2);
    await sql!.query(`DELETE FROM accounts WHERE id = 'acct_stranger'`);

    // ---- a distributed server on the copy ----
    const dist = await startServer(loadConfig({ ...env, PORT: '0', HOST: '127.0.0.1', PRESS_DATA_DIR: emptyDir }), { logger: false });
    server = dist;
    expect(dist.bootstrapKey).toBeNull(); // the migrated account is there
    const api2: Requester = httpClient(dist.url, admin);
    expect((await api2.request('GET', '/v1/account')).status).toBe(200);
    expect((await api2.request('GET', `/v1/deploys/${deployId}`, { key: editor })).status).toBe(200);
    const versions = (await api2.request('GET', `/v1/deploys/${deployId}/versions`)).body.items.map((v: any) => v.id);
    expect(versions.sort()).toEqual([v1.deployVersionId, v2.deployVersionId].sort());
    const files = (await api2.request('GET', `/v1/deploys/${deployId}/versions/${v1.deployVersionId}/files?limit=100`));
    expect(files.status, files.text).toBe(200);
    expect(files.body.items.length).toBe(v1.files.length);

    // the same bytes, from S3 now
    const pdfAfter = await bytes(`${dist.url}/v1/pdfs/${managed.output.pdfId}/content`, editor);
    expect(pdfAfter.status).toBe(200);
    expect(sha(pdfAfter.body)).toBe(sha(pdfBefore.body));
    const outputAfter = await bytes(`${dist.url}/v1/render-jobs/${transient.id}/output`, admin);
    expect(sha(outputAfter.body)).toBe(sha(outputBefore.body));
    // signed links (same key → same signatures work)
    const link = (await api2.request('POST', `/v1/pdfs/${managed.output.pdfId}/download`, { json: {} })).body.access.url as string;
    expect((await fetch(link)).status).toBe(200);

    // usage carried over exactly
    const usageAfter = (await api2.request('GET', '/v1/usage')).body;
    expect(usageAfter.usageMeters).toEqual(usageBefore.usageMeters);

    // a new render on the migrated deploy: blobs from S3, env and the secret decrypted with the same key
    const fresh = (await api2.request('POST', '/v1/render-jobs?wait=30', { json: { deployId, deployVersionId: 'preview', entry: 'env.html' } })).body.job;
    expect(fresh.status).toBe('succeeded');
    const text = await pdfText((await bytes(`${dist.url}/v1/render-jobs/${fresh.id}/output`, admin)).body);
    expect(text).toContain('ENV GREETING=hello-from-sqlite');
    expect(text).toContain('SECRET API_TOKEN=tok-migrated-42');
  }, 120_000);
});
