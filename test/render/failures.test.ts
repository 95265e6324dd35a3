import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChromiumRenderer } from '../../packages/engine/src/chromium/chromium-renderer.js';
import { deployDir } from '../helpers/deploy-dir.js';
import { pdfText } from '../helpers/pdf.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { PROBE_DIR, createJob, expectError, getOutput, sleep, storedObjects, waitStatus, waitTerminal } from './support.js';

const TIMEOUT_MS = 3000;

describe('render failures, blocked network and a browser crash', () => {
  let s: TestServer;
  let deployId: string;
  let local: Server;
  const localHits: string[] = [];

  beforeAll(async () => {
    // external network on, so the private-address rules (not the blanket "no network") are what blocks requests
    s = await startTestServer({ PRESS_RENDER_TIMEOUT_MS: String(TIMEOUT_MS), PRESS_ALLOW_EXTERNAL_NETWORK: 'true' });
    local = createServer((req, res) => {
      localHits.push(`${req.method} ${req.url}`);
      res.setHeader('access-control-allow-origin', '*');
      res.end('local secret data');
    });
    await new Promise<void>((r) => local.listen(0, '127.0.0.1', r));
    deployId = (await deployDir(s, PROBE_DIR, { slug: 'probe' })).deployId;
  });
  afterAll(async () => {
    await s?.stop();
    await new Promise((r) => local?.close(r));
  });

  it('a missing entry fails at once with render_entry_not_found, without a retry', async () => {
    const job = await createJob(s, { deployId, entry: 'missing/page.html' });
    const done = await waitTerminal(s, job.id);
    expect(done).toMatchObject({
      status: 'failed', attempt: 0, maxAttempts: 3, nextAttemptAt: null, output: null,
      error: { code: 'render_entry_not_found', message: expect.any(String) },
    });
    expect(done.finishedAt).toBeGreaterThanOrEqual(done.startedAt);
    expectError(await s.request('GET', `/v1/render-jobs/${job.id}/output`), 404, 'render_job_output_not_found');
    expectError(await s.request('POST', `/v1/render-jobs/${job.id}/output/download`, { json: {} }), 404, 'render_job_output_not_found');
    expect(await s.deps.db.renderJobs.payload(job.id)).toBeNull();
  });

  it('a page that never becomes ready fails with render_timeout within the configured timeout', async () => {
    const job = await createJob(s, { deployId, entry: 'never.html' });
    await waitStatus(s, job.id, 'rendering');
    const t0 = Date.now();
    const done = await waitTerminal(s, job.id, { timeoutMs: TIMEOUT_MS + 10_000 });
    const elapsed = Date.now() - t0;
    expect(done).toMatchObject({ status: 'failed', attempt: 0, nextAttemptAt: null, output: null, error: { code: 'render_timeout' } });
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 1000); // not cut short...
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 5000); // ...and bounded (slack for a loaded machine)
    // the renderer is healthy afterwards
    const next = await createJob(s, { deployId }, { wait: 20 });
    expect((next.status === 'succeeded' ? next : await waitTerminal(s, next.id)).status).toBe('succeeded');
  });

  it('a job may ask for a shorter render limit (timeoutMs), never a longer one than the plan\'s', async () => {
    const job = await createJob(s, { deployId, entry: 'never.html', timeoutMs: 1000 });
    expect(job.timeoutMs).toBe(1000);
    const done = await waitTerminal(s, job.id, { timeoutMs: TIMEOUT_MS + 10_000 });
    expect(done).toMatchObject({ status: 'failed', timeoutMs: 1000, error: { code: 'render_timeout' } });
    expect(done.error.message).toContain('within 1000 ms'); // the job's own limit, not the plan's 3 s
    expect(done.finishedAt - done.startedAt).toBeLessThan(TIMEOUT_MS);
    // without it: the plan's limit
    const plain = await createJob(s, { deployId });
    expect(plain.timeoutMs).toBe(TIMEOUT_MS);
    const over = await s.request('POST', '/v1/render-jobs', { json: { deployId, timeoutMs: TIMEOUT_MS + 1 } });
    expectError(over, 400, 'invalid_input');
    expect(over.body.message).toContain(`limit of ${TIMEOUT_MS} ms`);
    for (const timeoutMs of [999, 1500.5, '2000', -1]) {
      const bad = await s.request('POST', '/v1/render-jobs', { json: { deployId, timeoutMs } });
      expect(bad.status, JSON.stringify(timeoutMs)).toBe(400);
      expect(bad.body.message).toContain('timeoutMs');
    }
  });

  it('loopback, private and metadata addresses are unreachable from a page; the render goes on', async () => {
    const port = (local.address() as AddressInfo).port;
    const urls = [
      `http://127.0.0.1:${port}/`,
      `http://localhost:${port}/from-localhost`,
      `http://[::1]:${port}/`,
      'http://10.1.2.3/',
      'http://169.254.169.254/latest/meta-data',
    ];
    const job = await createJob(s, { deployId, entry: 'network.html', payload: { urls } });
    const done = await waitTerminal(s, job.id);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    const text = await pdfText((await getOutput(s, job.id)).body);
    for (const url of urls) expect(text).toContain(`BLOCKED ${url}`);
    expect(text).not.toContain('REACHED');
    expect(localHits).toEqual([]);
  });

  it('a browser crash mid-render schedules a retry, which succeeds with one output (attempt: 1 retry so far)', async () => {
    const job = await createJob(s, { deployId, entry: 'slow.html', payload: { delayMs: 1500, label: 'after-crash' } });
    await waitStatus(s, job.id, 'rendering');
    await sleep(500); // the page is open and waiting for its timer
    await (s.renderer as ChromiumRenderer).crashForTest('browser');

    const scheduled = await waitStatus(s, job.id, 'retry_scheduled');
    expect(scheduled.attempt).toBe(0);
    expect(['render_page_crashed', 'render_internal_error']).toContain(scheduled.error?.code);
    expect(scheduled.nextAttemptAt).toBeGreaterThan(s.clock.now());
    expect(scheduled.nextAttemptAt).toBeLessThanOrEqual(s.clock.now() + 10_000);
    expect(scheduled.finishedAt).toBeNull();
    expect(scheduled.output).toBeNull();
    expect(await s.deps.db.renderJobs.payload(job.id)).not.toBeNull(); // kept for the retry

    // nothing happens until the backoff has passed on the job clock
    await s.worker.maintain();
    expect((await s.request('GET', `/v1/render-jobs/${job.id}`)).body.job.status).toBe('retry_scheduled');
    s.clock.advance(10_000);
    await s.worker.maintain();
    const done = await waitTerminal(s, job.id);
    expect(done).toMatchObject({ status: 'succeeded', attempt: 1, error: null, nextAttemptAt: null });
    expect(await pdfText((await getOutput(s, job.id)).body)).toContain('SLOW DONE after-crash');
    expect((await storedObjects(s, 'outputs')).filter((p) => p.includes(job.id))).toHaveLength(1);
    expect(s.renderer.status().restarts).toBeGreaterThanOrEqual(1);
  });

  it('a page crash mid-render is retried the same way', async () => {
    const job = await createJob(s, { deployId, entry: 'slow.html', payload: { delayMs: 1500, label: 'after-page-crash' } });
    await waitStatus(s, job.id, 'rendering');
    await sleep(500);
    await (s.renderer as ChromiumRenderer).crashForTest('pages');
    const scheduled = await waitStatus(s, job.id, 'retry_scheduled');
    expect(scheduled.error?.code).toBe('render_page_crashed');
    s.clock.advance(10_000);
    await s.worker.maintain();
    const done = await waitTerminal(s, job.id);
    expect(done).toMatchObject({ status: 'succeeded', attempt: 1 });
    expect((await storedObjects(s, 'outputs')).filter((p) => p.includes(job.id))).toHaveLength(1);
  });

  it('after three crashed attempts the job fails for good (backoff 2 s, then 8 s)', async () => {
    const job = await createJob(s, { deployId, entry: 'slow.html', payload: { delayMs: 1500 } });
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const rendering = await waitStatus(s, job.id, 'rendering');
      expect(rendering.attempt).toBe(attempt - 1); // retries so far
      await sleep(400);
      await (s.renderer as ChromiumRenderer).crashForTest('pages');
      if (attempt < 3) {
        const scheduled = await waitStatus(s, job.id, 'retry_scheduled');
        delays.push(scheduled.nextAttemptAt - s.clock.now());
        s.clock.advance(11_000);
        await s.worker.maintain();
      }
    }
    const done = await waitTerminal(s, job.id);
    expect(done).toMatchObject({ status: 'failed', attempt: 2, maxAttempts: 3, nextAttemptAt: null, output: null, error: { code: 'render_page_crashed' } });
    expect(await s.deps.db.renderJobs.payload(job.id)).toBeNull();
    expect(delays[0]).toBeGreaterThanOrEqual(2000);
    expect(delays[0]).toBeLessThanOrEqual(2500);
    expect(delays[1]).toBeGreaterThanOrEqual(8000);
    expect(delays[1]).toBeLessThanOrEqual(10_000);
  });

  it('a job waiting for its retry can be canceled, and the retry never runs', async () => {
    const job = await createJob(s, { deployId, entry: 'slow.html', payload: { delayMs: 1500 } });
    await waitStatus(s, job.id, 'rendering');
    await sleep(500);
    await (s.renderer as ChromiumRenderer).crashForTest('pages');
    await waitStatus(s, job.id, 'retry_scheduled');
    const res = await s.request('POST', `/v1/render-jobs/${job.id}/cancel`, { json: {} });
    expect(res.status, res.text).toBe(200);
    expect(res.body.job).toMatchObject({ status: 'canceled', attempt: 0, nextAttemptAt: null, output: null });
    expect(await s.deps.db.renderJobs.payload(job.id)).toBeNull();
    s.clock.advance(10_000);
    await s.worker.maintain();
    await sleep(300);
    expect((await s.request('GET', `/v1/render-jobs/${job.id}`)).body.job).toMatchObject({ status: 'canceled', attempt: 0 });
    expect((await storedObjects(s, 'outputs')).filter((p) => p.includes(job.id))).toEqual([]);
  });
});
