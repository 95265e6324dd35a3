import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/domain/accounts.js';
import { newId } from '../../src/domain/ids.js';
import { accountPolicy } from '../../src/domain/usage.js';
import { billPeriod } from '../../src/domain/policy.js';
import type { RenderJobRecord } from '../../src/model/records.js';
import { deployDir } from '../helpers/deploy-dir.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { PROBE_DIR, TERMINAL, createJob, expectError, sleep, waitTerminal } from './support.js';

describe('render quotas and per-account concurrency', () => {
  let s: TestServer;

  beforeAll(async () => {
    // two render slots, so only the plan's concurrency limit can keep a free account's jobs apart
    s = await startTestServer({ PRESS_RENDER_CONCURRENCY: '2' });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('the free plan\'s 500 render jobs per period: the 501st → 429 render_job_quota_exceeded with Retry-After', async () => {
    const f = await s.newAccount('free-quota', 'free');
    const deployId = (await deployDir(s, PROBE_DIR, { slug: 'probe' }, { key: f.keys.editor })).deployId;
    await s.deps.db.usage.record(f.accountId, 'render_jobs', 499, s.clock.now());

    const last = await createJob(s, { deployId }, { key: f.keys.editor });
    const res = await s.request('POST', '/v1/render-jobs', { key: f.keys.editor, json: { deployId } });
    expectError(res, 429, 'render_job_quota_exceeded');
    const expected = Math.ceil((billPeriod(s.clock.now()).end - s.clock.now()) / 1000);
    expect(Number(res.headers.get('retry-after'))).toBe(expected);
    expectError(await s.request('POST', `/v1/deploys/${deployId}/render-jobs`, { key: f.keys.editor, json: {} }), 429, 'render_job_quota_exceeded');
    const list = await s.request('GET', `/v1/render-jobs?deployId=${deployId}`, { key: f.keys.viewer });
    expect(list.body.items.map((j: any) => j.id)).toEqual([last.id]);
    const usage = (await s.request('GET', '/v1/usage', { key: f.keys.viewer })).body;
    expect(usage.usageMeters.find((m: any) => m.code === 'render_jobs').totalQuantity).toBe(500);
    expect(usage.policy).toMatchObject({ maxRenderJobsPerBillPeriod: 500, maxConcurrentRenderJobs: 1 });
    await waitTerminal(s, last.id, { key: f.keys.viewer });

    // the next bill period starts fresh
    s.clock.set(billPeriod(s.clock.now()).end + 1000);
    const fresh = await createJob(s, { deployId }, { key: f.keys.editor });
    expect((await waitTerminal(s, fresh.id, { key: f.keys.viewer })).status).toBe('succeeded');
  });

  it('render time quota used up → 429 render_time_quota_exceeded', async () => {
    const f = await s.newAccount('free-time', 'free');
    const deployId = (await deployDir(s, PROBE_DIR, { slug: 'probe' }, { key: f.keys.editor })).deployId;
    await s.deps.db.usage.record(f.accountId, 'render_time_ms', 10 * 60_000, s.clock.now());
    const res = await s.request('POST', '/v1/render-jobs', { key: f.keys.editor, json: { deployId } });
    expectError(res, 429, 'render_time_quota_exceeded');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('a free account never renders two jobs at once; other accounts are not held up', async () => {
    const f = await s.newAccount('free-concurrency', 'free');
    const deployId = (await deployDir(s, PROBE_DIR, { slug: 'probe' }, { key: f.keys.editor })).deployId;
    const mineDeploy = (await deployDir(s, PROBE_DIR, { slug: 'unlimited-probe' })).deployId;
    const a = await createJob(s, { deployId, entry: 'slow.html', payload: { delayMs: 1500, label: 'a' } }, { key: f.keys.editor });
    s.clock.advance(1);
    const b = await createJob(s, { deployId, entry: 'slow.html', payload: { delayMs: 1500, label: 'b' } }, { key: f.keys.editor });

    let maxRendering = 0;
    let otherDone = false;
    const order: string[] = [];
    const deadline = Date.now() + 30_000;
    for (;;) {
      const list = await s.request('GET', `/v1/render-jobs?deployId=${deployId}`, { key: f.keys.viewer });
      const jobs = list.body.items as any[];
      const rendering = jobs.filter((j) => j.status === 'rendering');
      maxRendering = Math.max(maxRendering, rendering.length);
      for (const j of rendering) if (!order.includes(j.id)) order.push(j.id);
      if (rendering.length === 1 && !otherDone) {
        // while the free account's slot is taken (and its second job waits), another account renders at once
        expect(jobs.find((j) => j.id !== rendering[0].id)?.status).toBe('queued');
        const other = await createJob(s, { deployId: mineDeploy }, { wait: 20 });
        expect(other.status).toBe('succeeded');
        otherDone = true;
      }
      if (jobs.length === 2 && jobs.every((j) => TERMINAL.includes(j.status))) break;
      if (Date.now() > deadline) throw new Error(`jobs did not finish: ${JSON.stringify(jobs.map((j) => j.status))}`);
      await sleep(40);
    }
    expect(maxRendering).toBe(1);
    expect(otherDone).toBe(true);
    expect(order).toEqual([a.id, b.id]); // oldest first
    for (const j of [a, b]) expect((await waitTerminal(s, j.id, { key: f.keys.viewer })).status).toBe('succeeded');
  });

  it('the queue keeps every account to its limit even with many accounts waiting (claim-level)', async () => {
    const owner = await s.newAccount('claim-owner');
    const { deployId, deployVersionId } = await deployDir(s, PROBE_DIR, { slug: 'probe' }, { key: owner.keys.editor });
    await s.worker.stop();
    const jobs: RenderJobRecord[] = [];
    try {
      // 55 free accounts with two queued jobs each (limit 1), oldest accounts first
      const accounts = [];
      for (let i = 0; i < 55; i++) accounts.push((await createAccount(s.deps, { name: `claim-${i}`, planKey: 'free' })).id);
      for (const accountId of accounts) {
        for (let n = 0; n < 2; n++) {
          s.clock.advance(1);
          const now = s.clock.now();
          const job: RenderJobRecord = {
            id: newId('rj', now), accountId, deployId, deployVersionId, businessKey: null, entry: 'index.html', fileName: 'x.pdf',
            outputMode: 'transient', status: 'queued', attempt: 0, maxAttempts: 3, timeoutMs: 15_000, requestedAt: now, startedAt: null,
            finishedAt: null, nextAttemptAt: null, leaseOwner: null, leaseExpiresAt: null, errorCode: null, errorMessage: null, outputKey: null,
            outputBytes: null, outputPageCount: null, outputExpiresAt: null, outputDeletedAt: null, pdfId: null, renderTimeMs: null, webhookPending: false, diagnostics: null, pdfOptions: null,
          };
          await s.deps.db.renderJobs.enqueue(job, { mime: 'application/json', body: Buffer.from('null') });
          jobs.push(job);
        }
      }
      const claimed: RenderJobRecord[] = [];
      for (;;) {
        const job = await s.deps.db.renderJobs.claim({
          workerId: 'wrk_test', now: s.clock.now(), leaseMs: 60_000,
          accountLimit: async (id) => (await accountPolicy(s.deps, id)).policy.maxConcurrentRenderJobs,
        });
        if (!job) break;
        claimed.push(job);
        expect(claimed.length).toBeLessThanOrEqual(jobs.length);
      }
      const perAccount = new Map<string, number>();
      for (const j of claimed) perAccount.set(j.accountId, (perAccount.get(j.accountId) ?? 0) + 1);
      expect(Math.max(...perAccount.values())).toBe(1);
      expect(perAccount.size).toBe(55); // and every account got its one slot
    } finally {
      for (const j of jobs) await s.deps.db.renderJobs.cancel(j.accountId, j.id, s.clock.now());
      s.worker.start();
    }
  });
});
