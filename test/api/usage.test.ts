import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.js';
import { deployFiles, manifest } from '../helpers/uploads.js';
import { expectError, startApiServer } from './helpers.js';

let s: TestServer;
beforeAll(async () => {
  s = await startApiServer();
});
afterAll(async () => s.stop());

const MB = 1_000_000;
const keys = (o: object) => Object.keys(o).sort();

describe('GET /v1/usage', () => {
  it('has the shape of spec §7 and Cache-Control: private, no-store', async () => {
    const res = await s.request('GET', '/v1/usage');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    const u = res.body;
    expect(keys(u)).toEqual(['bill', 'generatedAt', 'liveStorage', 'period', 'plan', 'policy', 'storageMeters', 'uploadLimits', 'usageMeters']);
    expect(u.bill).toBeNull();
    expect(u.generatedAt).toBe(s.clock.now());

    expect(keys(u.period)).toEqual(['end', 'kind', 'start', 'usageDayEndExclusive', 'usageDayStart']);
    expect(u.period.kind).toBe('current_bill_period');
    const now = s.clock.now();
    expect(u.period.start).toBeLessThanOrEqual(now);
    expect(u.period.end).toBeGreaterThan(now);
    expect(u.period.usageDayStart).toBeLessThanOrEqual(now);
    expect(u.period.usageDayEndExclusive).toBe(u.period.usageDayStart + 86_400_000);
    expect(u.period.usageDayEndExclusive).toBeGreaterThan(now);

    expect(keys(u.plan)).toEqual(['currency', 'interval', 'key', 'monthlyPriceCents', 'name']);
    expect(u.plan).toMatchObject({ key: 'unlimited', currency: expect.any(String), interval: 'month', monthlyPriceCents: expect.any(Number) });

    expect(keys(u.policy)).toEqual([
      'allowExternalNetwork', 'maxBytesPerDeployCommit', 'maxConcurrentRenderJobs', 'maxDeployCommitsPerBillPeriod', 'maxFilesPerDeployCommit',
      'maxRenderJobsPerBillPeriod', 'maxRenderOutputBytes', 'maxRenderTimeMsPerBillPeriod', 'maxRenderTimeoutMs', 'storageLimitBytes',
    ]);
    // §8, self-hosted default `unlimited`
    expect(u.policy).toEqual({
      allowExternalNetwork: false, maxBytesPerDeployCommit: 256 * MB, maxConcurrentRenderJobs: null, maxDeployCommitsPerBillPeriod: null,
      maxFilesPerDeployCommit: 5000, maxRenderJobsPerBillPeriod: null, maxRenderOutputBytes: 200 * MB, maxRenderTimeMsPerBillPeriod: null,
      maxRenderTimeoutMs: 60_000, storageLimitBytes: null,
    });

    expect(u.usageMeters.map((m: { code: string }) => m.code)).toEqual(['deploy_commits', 'render_jobs', 'render_time_ms']);
    for (const m of u.usageMeters) {
      // documented keys, plus our `limit` (the policy value for that meter)
      expect(m).toEqual({ code: m.code, aggregation: 'sum', totalQuantity: 0, unit: expect.any(String), version: expect.any(Number), limit: null });
    }

    expect(u.liveStorage).toEqual({ deployVersionStorageBytes: 0, managedPdfStorageBytes: 0, renderOutputStorageBytes: 0, totalBytes: 0 });
    expect(u.uploadLimits).toMatchObject({ maxSingleFileBytes: 10 * MB });
    expect(Array.isArray(u.storageMeters)).toBe(true);
  });

  it('deploy_commits counts commits; live storage counts distinct blobs held', async () => {
    const a = await s.newAccount('metered');
    const files = [{ path: 'index.html', content: '<p>hello</p>' }, { path: 'a.css', content: 'p{}', mime: 'text/css' }];
    const first = await deployFiles(s, { createDeploy: { slug: 'metered', name: 'M' } }, files, { key: a.keys.editor });
    await deployFiles(s, { deployId: first.deployId }, files, { key: a.keys.editor });
    await deployFiles(s, { deployId: first.deployId }, [{ path: 'index.html', content: 'changed' }], { key: a.keys.editor });
    const u = (await s.request('GET', '/v1/usage', { key: a.keys.viewer })).body;
    const meter = (code: string) => u.usageMeters.find((m: { code: string }) => m.code === code);
    expect(meter('deploy_commits').totalQuantity).toBe(3);
    expect(meter('render_jobs').totalQuantity).toBe(0);
    const bytes = Buffer.byteLength('<p>hello</p>') + Buffer.byteLength('p{}') + Buffer.byteLength('changed');
    expect(u.liveStorage).toEqual({ deployVersionStorageBytes: bytes, managedPdfStorageBytes: 0, renderOutputStorageBytes: 0, totalBytes: bytes });
    // other accounts see their own meters only
    const mine = (await s.request('GET', '/v1/usage')).body;
    expect(mine.usageMeters.find((m: { code: string }) => m.code === 'deploy_commits').totalQuantity).toBe(0);
    expect(mine.liveStorage.totalBytes).toBe(0);
  });

  it('an account on the free plan shows the free policy of §8', async () => {
    const free = await s.newAccount('free-one', 'free');
    const u = (await s.request('GET', '/v1/usage', { key: free.keys.viewer })).body;
    expect(u.plan).toMatchObject({ key: 'free', interval: 'month' });
    expect(u.policy).toEqual({
      allowExternalNetwork: false, maxBytesPerDeployCommit: 25 * MB, maxConcurrentRenderJobs: 1, maxDeployCommitsPerBillPeriod: 100,
      maxFilesPerDeployCommit: 50, maxRenderJobsPerBillPeriod: 500, maxRenderOutputBytes: 50 * MB, maxRenderTimeMsPerBillPeriod: 10 * 60_000,
      maxRenderTimeoutMs: 15_000, storageLimitBytes: 1000 * MB,
    });
    expect(u.usageMeters.find((m: { code: string }) => m.code === 'deploy_commits').limit).toBe(100);
    const account = (await s.request('GET', '/v1/account', { key: free.keys.viewer })).body.account;
    expect(account.plan.key).toBe('free');
  });

  it('starter and pro presets', async () => {
    const starter = (await s.request('GET', '/v1/usage', { key: (await s.newAccount('starter-one', 'starter')).keys.viewer })).body.policy;
    expect(starter).toEqual({
      allowExternalNetwork: true, maxBytesPerDeployCommit: 50 * MB, maxConcurrentRenderJobs: 10, maxDeployCommitsPerBillPeriod: null,
      maxFilesPerDeployCommit: 200, maxRenderJobsPerBillPeriod: null, maxRenderOutputBytes: 200 * MB, maxRenderTimeMsPerBillPeriod: 150 * 60_000,
      maxRenderTimeoutMs: 60_000, storageLimitBytes: 10_000 * MB,
    });
    const pro = (await s.request('GET', '/v1/usage', { key: (await s.newAccount('pro-one', 'pro')).keys.viewer })).body.policy;
    expect(pro).toEqual({
      allowExternalNetwork: true, maxBytesPerDeployCommit: 100 * MB, maxConcurrentRenderJobs: 50, maxDeployCommitsPerBillPeriod: null,
      maxFilesPerDeployCommit: 500, maxRenderJobsPerBillPeriod: null, maxRenderOutputBytes: 200 * MB, maxRenderTimeMsPerBillPeriod: 600 * 60_000,
      maxRenderTimeoutMs: 60_000, storageLimitBytes: 50_000 * MB,
    });
  });
});

describe('quotas', () => {
  it('a free account with 100 deploy commits this period → 429 deploy_commit_quota_exceeded with Retry-After to the period end', async () => {
    const free = await s.newAccount('free-full', 'free');
    await s.deps.db.usage.record(free.accountId, 'deploy_commits', 100, s.clock.now());
    const u = (await s.request('GET', '/v1/usage', { key: free.keys.viewer })).body;
    expect(u.usageMeters.find((m: { code: string }) => m.code === 'deploy_commits').totalQuantity).toBe(100);

    const res = await s.request('POST', '/v1/upload-sessions', {
      key: free.keys.editor, json: { createDeploy: { slug: 'over', name: 'Over' }, files: manifest([{ path: 'index.html', content: 'x' }]) },
    });
    expectError(res, 429, 'deploy_commit_quota_exceeded');
    const retryAfter = res.headers.get('retry-after');
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBe(Math.ceil((u.period.end - s.clock.now()) / 1000));
    // nothing was created by the refused request
    expect((await s.request('GET', '/v1/deploys', { key: free.keys.viewer })).body.items).toEqual([]);
  });

  it('usage recorded in an earlier period does not count', async () => {
    const free = await s.newAccount('free-last-month', 'free');
    const u = (await s.request('GET', '/v1/usage', { key: free.keys.viewer })).body;
    await s.deps.db.usage.record(free.accountId, 'deploy_commits', 100, u.period.start - 1);
    const ok = await deployFiles(s, { createDeploy: { slug: 'fresh', name: 'F' } }, [{ path: 'index.html', content: 'ok' }], { key: free.keys.editor });
    expect(ok.deployVersion.id).toMatch(/^dv_/);
    const after = (await s.request('GET', '/v1/usage', { key: free.keys.viewer })).body;
    expect(after.usageMeters.find((m: { code: string }) => m.code === 'deploy_commits').totalQuantity).toBe(1);
  });
});
