import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.js';
import { deployFiles, manifest } from '../helpers/uploads.js';
import { expectError, startApiServer } from './helpers.js';

let s: TestServer;
beforeAll(async () => {
  s = await startApiServer();
});
afterAll(async () => s.stop());

const MB = 1024 * 1024; // binary, as the docs count (spec §9.2)
const keys = (o: object) => Object.keys(o).sort();

describe('GET /v1/usage', () => {
  it('has exactly the shape of the docs\' usage page (spec §7, §9.3) and Cache-Control: private, no-store', async () => {
    const res = await s.request('GET', '/v1/usage');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    const u = res.body;
    expect(keys(u)).toEqual(['bill', 'generatedAt', 'liveStorage', 'period', 'plan', 'policy', 'storageMeters', 'uploadLimits', 'usageMeters']);
    expect(u.generatedAt).toBe(s.clock.now());

    const now = new Date(s.clock.now());
    const start = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
    const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    const day = (t: number) => new Date(t).toISOString().slice(0, 10);
    // the period's first day and the day after it ends, as day strings
    expect(u.period).toEqual({ kind: 'current_bill_period', start, end, usageDayStart: day(start), usageDayEndExclusive: day(end) });
    // never null: a docs client reads bill.periodEnd
    expect(u.bill).toEqual({ provider: 'none', interval: 'month', periodStart: start, periodEnd: end });

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

    expect(u.usageMeters).toEqual([
      { code: 'deploy_commits', aggregation: 'count', totalQuantity: 0, unit: 'count', version: '1' },
      { code: 'render_jobs', aggregation: 'count', totalQuantity: 0, unit: 'count', version: '1' },
      { code: 'render_time_ms', aggregation: 'sum', totalQuantity: 0, unit: 'ms', version: '1' },
    ]);

    expect(u.liveStorage).toEqual({ deployVersionStorageBytes: 0, managedPdfStorageBytes: 0, renderOutputStorageBytes: 0, totalBytes: 0 });
    expect(u.uploadLimits).toEqual({ maxSingleFileBytes: 10_485_760 });
    const days = Math.round((Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - start) / 86_400_000) + 1;
    expect(u.storageMeters).toEqual([{
      code: 'managed_pdf_storage', aggregation: 'daily_peak', unit: 'bytes', currentBytes: 0,
      peakBytesByDay: Array.from({ length: days }, (_, i) => ({ day: day(start + i * 86_400_000), peakBytes: 0, peakGiBDay: 0 })),
      totalPeakBytes: 0, totalPeakGiBDays: 0, version: '1',
    }]);
  });

  it('managed PDF storage: the peak of each day, from when PDFs were stored and deleted', async () => {
    const { dailyPeaks } = await import('../../src/domain/usage.js');
    const D = Date.UTC(2026, 0, 1);
    const H = 3_600_000;
    const peaks = dailyPeaks([
      { bytes: 100, createdAt: D - 5 * H, deletedAt: null }, // held before the period
      { bytes: 50, createdAt: D + 2 * H, deletedAt: D + 3 * H }, // a short peak on day 1
      { bytes: 1024 ** 3, createdAt: D + 24 * H + 1, deletedAt: D + 30 * H }, // day 2 only
      { bytes: 7, createdAt: D + 48 * H, deletedAt: D + 48 * H }, // gone at once
    ], D, D + 3 * 24 * H);
    expect(peaks).toEqual([
      { day: '2026-01-01', peakBytes: 150, peakGiBDay: 150 / 1024 ** 3 },
      { day: '2026-01-02', peakBytes: 100 + 1024 ** 3, peakGiBDay: 1 + 100 / 1024 ** 3 },
      { day: '2026-01-03', peakBytes: 100, peakGiBDay: 100 / 1024 ** 3 },
    ]);
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

  it('an account on the free plan shows the free policy of §8, in binary units (§9.2)', async () => {
    const free = await s.newAccount('free-one', 'free');
    const u = (await s.request('GET', '/v1/usage', { key: free.keys.viewer })).body;
    expect(u.plan).toMatchObject({ key: 'free', interval: 'month' });
    expect(u.policy).toEqual({
      allowExternalNetwork: false, maxBytesPerDeployCommit: 25 * MB, maxConcurrentRenderJobs: 1, maxDeployCommitsPerBillPeriod: 100,
      maxFilesPerDeployCommit: 50, maxRenderJobsPerBillPeriod: 500, maxRenderOutputBytes: 50 * MB, maxRenderTimeMsPerBillPeriod: 10 * 60_000,
      maxRenderTimeoutMs: 15_000, storageLimitBytes: 1024 * MB,
    });
    const account = (await s.request('GET', '/v1/account', { key: free.keys.viewer })).body.account;
    expect(account.plan.key).toBe('free');
  });

  it('starter and pro presets', async () => {
    const starter = (await s.request('GET', '/v1/usage', { key: (await s.newAccount('starter-one', 'starter')).keys.viewer })).body.policy;
    expect(starter).toEqual({
      allowExternalNetwork: true, maxBytesPerDeployCommit: 50 * MB, maxConcurrentRenderJobs: 10, maxDeployCommitsPerBillPeriod: null,
      maxFilesPerDeployCommit: 200, maxRenderJobsPerBillPeriod: null, maxRenderOutputBytes: 200 * MB, maxRenderTimeMsPerBillPeriod: 150 * 60_000,
      maxRenderTimeoutMs: 60_000, storageLimitBytes: 10 * 1024 * MB, // 10 737 418 240, the docs' example
    });
    const pro = (await s.request('GET', '/v1/usage', { key: (await s.newAccount('pro-one', 'pro')).keys.viewer })).body.policy;
    expect(pro).toEqual({
      allowExternalNetwork: true, maxBytesPerDeployCommit: 100 * MB, maxConcurrentRenderJobs: 50, maxDeployCommitsPerBillPeriod: null,
      maxFilesPerDeployCommit: 500, maxRenderJobsPerBillPeriod: null, maxRenderOutputBytes: 200 * MB, maxRenderTimeMsPerBillPeriod: 600 * 60_000,
      maxRenderTimeoutMs: 60_000, storageLimitBytes: 50 * 1024 * MB,
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

describe('GET /v1/usage/daily', () => {
  it('sums each meter per UTC day of the period at any volume; viewers read it; other workspaces see only their own', async () => {
    const acct = await s.newAccount(`daily-${Date.now()}`);
    const other = await s.newAccount(`daily-other-${Date.now()}`);
    const now = s.clock.now();
    const today = Math.floor(now / 86_400_000) * 86_400_000;
    const start = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);
    // 250 jobs today (more than any list page), 3 on the period's first day (unless that is today), render time
    for (let i = 0; i < 250; i++) await s.deps.db.usage.record(acct.accountId, 'render_jobs', 1, today + i);
    await s.deps.db.usage.record(acct.accountId, 'render_time_ms', 1234, today + 5);
    for (let i = 0; i < 3; i++) await s.deps.db.usage.record(acct.accountId, 'render_jobs', 1, start + 1000 + i);
    await s.deps.db.usage.record(other.accountId, 'render_jobs', 7, today);
    // before the period: not counted
    await s.deps.db.usage.record(acct.accountId, 'render_jobs', 1, start - 1);

    const res = await s.request('GET', '/v1/usage/daily', { key: acct.keys.viewer });
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    const days = res.body.days as { day: string; renderJobs: number; renderTimeMs: number; deployCommits: number }[];
    const iso = (t: number) => new Date(t).toISOString().slice(0, 10);
    expect(days[0].day).toBe(iso(start));
    expect(days[days.length - 1].day).toBe(iso(today));
    expect(days.length).toBe((today - start) / 86_400_000 + 1);
    const byDay = new Map(days.map((d) => [d.day, d]));
    if (today === start) expect(byDay.get(iso(today))).toMatchObject({ renderJobs: 253, renderTimeMs: 1234, deployCommits: 0 });
    else {
      expect(byDay.get(iso(today))).toMatchObject({ renderJobs: 250, renderTimeMs: 1234, deployCommits: 0 });
      expect(byDay.get(iso(start))!.renderJobs).toBe(3);
    }
    const totals = (await s.request('GET', '/v1/usage', { key: acct.keys.viewer })).body.usageMeters.find((m: { code: string }) => m.code === 'render_jobs');
    expect(days.reduce((n, d) => n + d.renderJobs, 0)).toBe(totals.totalQuantity);
    const theirs = (await s.request('GET', '/v1/usage/daily', { key: other.keys.viewer })).body.days;
    expect(theirs.reduce((n: number, d: { renderJobs: number }) => n + d.renderJobs, 0)).toBe(7);
    expectError(await s.request('GET', '/v1/usage/daily', { key: null }), 401, 'missing_authorization');
  });
});
