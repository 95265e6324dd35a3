import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PressCloud, PressCloudError, PressCloudTimeoutError, type DeployProgress } from '@press-cloud/sdk';
import { newId } from '../../src/domain/ids.js';
import { pdfPagesText } from '../helpers/pdf.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { INVOICE_DIR, NEVER_READY_DIR } from './support.js';

const payload = JSON.parse(readFileSync(join(INVOICE_DIR, 'payload.json'), 'utf8'));
const notPayload = (path: string) => path === 'payload.json';

interface Call {
  method: string;
  path: string;
  idempotencyKey: string | null;
  status: number;
  replayed: boolean;
}

/** The real fetch, recording every call; `fault` may replace a call's outcome (a dropped connection, a 429…). */
function recordingFetch(fault?: (call: { method: string; path: string; n: number }, send: () => Promise<Response>) => Promise<Response> | null) {
  const calls: Call[] = [];
  const counts = new Map<string, number>();
  const impl: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const key = `${method} ${url.pathname}`;
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    const headers = new Headers(init?.headers);
    const record = (res: Response) => {
      calls.push({
        method, path: url.pathname, idempotencyKey: headers.get('idempotency-key'), status: res.status,
        replayed: res.headers.get('idempotent-replayed') === 'true',
      });
      return res;
    };
    const send = async () => record(await fetch(input, init));
    const faulty = fault?.({ method, path: url.pathname, n }, send);
    return faulty ?? send();
  };
  return { impl, calls };
}

describe('@press-cloud/sdk against a real server', () => {
  let s: TestServer;
  let client: PressCloud;
  let deployId: string;

  beforeAll(async () => {
    s = await startTestServer({ PRESS_RENDER_TIMEOUT_MS: '20000' });
    client = new PressCloud({ apiBase: s.url, token: s.adminKey });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('defaults apiBase and token from PRESS_CLOUD_API / PRESS_CLOUD_TOKEN', async () => {
    const saved = { api: process.env.PRESS_CLOUD_API, token: process.env.PRESS_CLOUD_TOKEN };
    process.env.PRESS_CLOUD_API = s.url;
    process.env.PRESS_CLOUD_TOKEN = s.adminKey;
    try {
      const { account } = await new PressCloud().account.get();
      expect(account.id).toMatch(/^acct_/);
    } finally {
      if (saved.api === undefined) delete process.env.PRESS_CLOUD_API;
      else process.env.PRESS_CLOUD_API = saved.api;
      if (saved.token === undefined) delete process.env.PRESS_CLOUD_TOKEN;
      else process.env.PRESS_CLOUD_TOKEN = saved.token;
    }
  });

  it('deployDirectory + render + download: the full round trip', async () => {
    const progress: DeployProgress[] = [];
    const deployed = await client.deployDirectory(INVOICE_DIR, {
      slug: 'sdk-invoice', name: 'SDK invoice', aliases: ['preview'], exclude: notPayload, onProgress: (p) => progress.push(p),
    });
    deployId = deployed.deployId;
    expect(deployed.deployCreated).toBe(true);
    expect(deployed.files).toBe(6); // with fonts/OFL-LICENSE.txt
    expect(deployed.uploadedFiles).toBe(6);
    expect(deployed.uploadedBytes).toBe(deployed.bytes);
    expect(deployed.deployVersion).toMatchObject({ deployId, fileCount: 6, bytes: deployed.bytes });
    expect(progress.filter((p) => p.phase === 'hash').at(-1)).toMatchObject({ files: 6, totalFiles: 6 });
    expect(progress.filter((p) => p.phase === 'upload').at(-1)).toMatchObject({ files: 6, totalFiles: 6, bytes: deployed.bytes });
    expect(progress.at(-1)).toEqual({ phase: 'commit' });

    const files = await client.versions.files(deployId, deployed.deployVersion.id);
    expect(files.items.map((f) => f.path).sort()).toEqual(
      ['fonts/OFL-LICENSE.txt', 'fonts/inter-latin-400-normal.woff2', 'fonts/inter-latin-700-normal.woff2', 'index.html', 'invoice.css', 'invoice.js'],
    );
    expect(files.items.find((f) => f.path === 'index.html')?.mime).toBe('text/html; charset=utf-8');
    const { aliases } = await client.deploys.get(deployId).then((r) => r.deploy);
    expect(JSON.stringify(aliases)).toContain('preview');

    await client.settings.update(deployId, { env: { COMPANY_NAME: 'SDK Widgets Ltd' } });
    const seen: string[] = [];
    const job = await client.render(
      { deployId, deployVersionId: 'preview', payload, businessKey: payload.number },
      { wait: 60, onUpdate: (j) => seen.push(j.status) },
    );
    expect(job.status, JSON.stringify(job)).toBe('succeeded');
    expect(seen.at(-1)).toBe('succeeded');

    const dir = mkdtempSync(join(tmpdir(), 'press-sdk-'));
    const saved = await client.download(job.id, { to: join(dir, 'nested', 'invoice.pdf') });
    expect(saved.bytes).toBe(job.output!.bytes);
    const pdf = readFileSync(saved.path);
    const pages = await pdfPagesText(pdf);
    expect(pages.length).toBe(job.output!.pageCount);
    expect(pages.join('\n')).toContain(payload.number);
    expect(pages.join('\n')).toContain('SDK Widgets Ltd');

    const stream = await client.download(job.id);
    expect(Buffer.from(await new Response(stream).arrayBuffer()).equals(pdf)).toBe(true);
  }, 120_000);

  it('a second deploy of the same directory uploads zero bytes', async () => {
    const { impl, calls } = recordingFetch();
    const counting = new PressCloud({ apiBase: s.url, token: s.adminKey, fetch: impl });
    const again = await counting.deployDirectory(INVOICE_DIR, { slug: 'sdk-invoice', exclude: notPayload });
    expect(again.deployId).toBe(deployId);
    expect(again.deployCreated).toBe(false);
    expect(again.uploadedFiles).toBe(0);
    expect(again.uploadedBytes).toBe(0);
    expect(calls.filter((c) => c.method === 'PUT')).toEqual([]);
    expect(again.deployVersion.fileCount).toBe(6);
    expect(calls.map((c) => `${c.method} ${c.path.replace(/us_\w+/, 'us_*')}`)).toEqual([
      'GET /v1/deploys',
      'POST /v1/upload-sessions',
      'POST /v1/upload-sessions/us_*/missing-blobs',
      'POST /v1/upload-sessions/us_*/commit',
    ]);
  }, 60_000);

  it('a create retried after a dropped connection creates exactly one job (same Idempotency-Key)', async () => {
    const { impl, calls } = recordingFetch(({ method, path, n }, send) =>
      method === 'POST' && path === '/v1/render-jobs' && n === 1
        ? send().then(async (res) => {
            await res.arrayBuffer(); // the server did the work and answered; the answer is lost on the way back
            throw new TypeError('fetch failed', { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) });
          })
        : null,
    );
    const flaky = new PressCloud({ apiBase: s.url, token: s.adminKey, fetch: impl, retryBaseDelayMs: 10 });
    const job = await flaky.render({ deployId, payload, businessKey: 'retried-create' }, { wait: 60 });
    expect(job.status).toBe('succeeded');

    const creates = calls.filter((c) => c.method === 'POST' && c.path === '/v1/render-jobs');
    expect(creates).toHaveLength(2);
    expect(creates[0].idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(creates[1].idempotencyKey).toBe(creates[0].idempotencyKey);
    expect(creates[1].replayed).toBe(true);
    const listed = await client.renderJobs.list({ businessKey: 'retried-create' });
    expect(listed.items.map((j) => j.id)).toEqual([job.id]);

    // dropped while the server is still holding the first request (?wait=): the retry meets 409
    // idempotency_key_in_use, waits for the first to finish, and gets its answer replayed
    let background: Promise<Response> | null = null;
    const early = recordingFetch(({ method, path, n }, send) => {
      if (method !== 'POST' || path !== '/v1/render-jobs' || n !== 1) return null;
      background = send();
      return new Promise((_, reject) => setTimeout(() => reject(new TypeError('fetch failed')), 50));
    });
    const impatient = new PressCloud({ apiBase: s.url, token: s.adminKey, fetch: early.impl, retryBaseDelayMs: 10 });
    const job2 = await impatient.render({ deployId, payload, businessKey: 'retried-early' }, { wait: 60 });
    expect(job2.status).toBe('succeeded');
    await background;
    const statuses = early.calls.filter((c) => c.method === 'POST' && c.path === '/v1/render-jobs').map((c) => `${c.status}${c.replayed ? ' replayed' : ''}`);
    expect(statuses).toContain('409');
    expect(statuses.at(-1)).toBe('202 replayed');
    expect((await client.renderJobs.list({ businessKey: 'retried-early' })).items.map((j) => j.id)).toEqual([job2.id]);

    // without the SDK's key the same failure would have made two jobs: every call gets its own key
    const other = await client.renderJobs.create({ deployId, payload, businessKey: 'retried-create' });
    expect(other.job.id).not.toBe(job.id);
    await client.renderJobs.cancel(other.job.id).catch(() => undefined);
  }, 120_000);

  it('honours Retry-After on 429, retries 5xx on reads, and does not retry a non-idempotent write on 5xx', async () => {
    const attempts: string[] = [];
    const { impl } = recordingFetch(({ method, path, n }) => {
      attempts.push(`${method} ${path}`);
      if (method === 'GET' && path === '/v1/account' && n === 1) {
        return Promise.resolve(Response.json({ error: 'rate_limited', message: 'slow down' }, { status: 429, headers: { 'retry-after': '1' } }));
      }
      if (method === 'GET' && path === '/v1/usage' && n <= 2) {
        return Promise.resolve(Response.json({ error: 'service_unavailable', message: 'storage down' }, { status: 503 }));
      }
      if (method === 'POST' && path.endsWith('/commit')) {
        return Promise.resolve(Response.json({ error: 'internal_error', message: 'boom' }, { status: 500, headers: { 'x-request-id': 'req_test' } }));
      }
      return null;
    });
    const c = new PressCloud({ apiBase: s.url, token: s.adminKey, fetch: impl, retryBaseDelayMs: 10 });
    const t0 = Date.now();
    const { account } = await c.account.get();
    expect(account.id).toMatch(/^acct_/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    const usage = await c.usage.get();
    expect(usage.plan.key).toBeTruthy();
    expect(attempts.filter((a) => a === 'GET /v1/account')).toHaveLength(2);
    expect(attempts.filter((a) => a === 'GET /v1/usage')).toHaveLength(3);

    const err = await c.uploads.commit('us_00000000000000000000000000', 'ustk_x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PressCloudError);
    expect(err).toMatchObject({ status: 500, code: 'internal_error', message: 'boom', requestId: 'req_test', retryAfter: null });
    expect(attempts.filter((a) => a.endsWith('/commit'))).toHaveLength(1);

    const never = new PressCloud({ apiBase: s.url, token: s.adminKey, maxRetries: 0, fetch: async () => Response.json({ error: 'render_job_quota_exceeded', message: 'quota' }, { status: 429, headers: { 'retry-after': '86400' } }) });
    await expect(never.usage.get()).rejects.toMatchObject({ status: 429, code: 'render_job_quota_exceeded', retryAfter: 86400 });
  }, 30_000);

  it('errors are PressCloudError with status, code, message and request id', async () => {
    const missing = newId('dpl');
    const err = await client.deploys.get(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PressCloudError);
    expect(err).toMatchObject({ status: 404, code: 'deploy_not_found' });
    expect((err as PressCloudError).requestId).toMatch(/^req_/);

    const bad = new PressCloud({ apiBase: s.url, token: 'pcak_not-a-real-key' });
    await expect(bad.account.get()).rejects.toMatchObject({ status: 401, code: 'invalid_api_key' });

    const down = new PressCloud({ apiBase: 'http://127.0.0.1:9', token: s.adminKey, maxRetries: 1, retryBaseDelayMs: 5 });
    await expect(down.account.get()).rejects.toMatchObject({ status: 0, code: 'network_error' });
  });

  it('render() gives up after `wait` seconds with PressCloudTimeoutError carrying the job', async () => {
    const never = await client.deployDirectory(NEVER_READY_DIR, { slug: 'sdk-never' });
    const err = await client.render({ deployId: never.deployId }, { wait: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PressCloudTimeoutError);
    const job = (err as PressCloudTimeoutError).job;
    expect(job.id).toMatch(/^rj_/);
    expect(['queued', 'rendering']).toContain(job.status);
    expect((await client.renderJobs.cancel(job.id)).job.status).toBe('canceled');
    const queued = await client.render({ deployId: never.deployId }, { wait: false });
    expect(queued.status).toBe('queued');
    await client.renderJobs.cancel(queued.id);
  }, 60_000);

  it('managed PDFs: list, get, download by pdf id, delete; paginate follows cursors', async () => {
    const job = await client.render({ deployId, payload, outputMode: 'managed', businessKey: 'managed-1' }, { wait: 60 });
    expect(job.status).toBe('succeeded');
    const pdfId = job.output!.pdfId!;
    expect(pdfId).toMatch(/^pdf_/);
    expect((await client.pdfs.get(pdfId)).pdf).toMatchObject({ id: pdfId, renderJobId: job.id, businessKey: 'managed-1' });
    const bytes = Buffer.from(await new Response(await client.download(pdfId)).arrayBuffer());
    expect(bytes.subarray(0, 5).toString()).toBe('%PDF-');
    expect(bytes.length).toBe(job.output!.bytes);
    expect((await client.pdfs.downloadLink(pdfId)).access.url).toContain(pdfId);
    await client.pdfs.delete(pdfId);
    await expect(client.pdfs.get(pdfId)).rejects.toMatchObject({ status: 404, code: 'pdf_not_found' });

    for (const slug of ['page-a', 'page-b', 'page-c']) await client.deploys.create({ slug, name: slug });
    const slugs: string[] = [];
    for await (const d of client.paginate((cursor) => client.deploys.list({ cursor, limit: 1 }))) slugs.push(d.slug);
    expect(slugs).toEqual(expect.arrayContaining(['page-a', 'page-b', 'page-c', 'sdk-invoice', 'sdk-never']));
    expect(new Set(slugs).size).toBe(slugs.length);
  }, 120_000);
});
