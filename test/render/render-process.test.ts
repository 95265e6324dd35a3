import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir } from '../helpers/deploy-dir.js';
import { alive, descendants } from '../helpers/processes.js';
import type { TestServer } from '../helpers/server.js';
import { PROBE_DIR, createJob, httpClient, sleep, spawnServe, waitStatus, waitTerminal } from './support.js';
import type { Requester } from './support.js';

// `press-cloud serve` runs its render pool in a supervised child process (issue 10 §3). Whatever happens to that
// process — a flooding page, kill -9, out of memory — the API keeps answering and every other job succeeds.
const HOSTILE_DIR = fileURLToPath(new URL('../fixtures/apps/hostile/', import.meta.url));
/** the bound this suite holds the API process's RSS to while a page floods its output */
const API_RSS_BOUND_MIB = 64;

/** The profile directory of the Chromium under the render process `pid`. */
const userDataDir = (pid: number): string | null => {
  for (const p of descendants(pid)) {
    try {
      const arg = readFileSync(`/proc/${p}/cmdline`, 'utf8').split(/[\0 ]/).find((a) => a.startsWith('--user-data-dir='));
      if (arg) return arg.slice('--user-data-dir='.length);
    } catch {
      // gone meanwhile
    }
  }
  return null;
};

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe('the render process', () => {
  let dataDir = '';
  let child: ChildProcess | null = null;
  let api: Requester;
  let probe = '';
  let hostile = '';
  let banner: () => string = () => '';
  const stray: number[] = [];

  /** the ready render process's pid (another than `not`) */
  const renderPid = async (not?: number): Promise<number> => {
    for (let i = 0; i < 300; i++) {
      const res = await api.request('GET', '/readyz');
      const pid = res.body.checks.renderer?.detail?.isolation?.pid;
      if (res.status === 200 && pid && pid !== not) return pid;
      await sleep(100);
    }
    throw new Error('the render process did not become ready');
  };

  /** /healthz and a normal /v1 call, each within a second */
  const apiAnswers = async () => {
    const t0 = performance.now();
    expect((await api.request('GET', '/healthz')).status).toBe(200);
    expect((await api.request('GET', '/v1/account')).status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(1000);
  };

  const normalJobs = (n: number, label: string) =>
    Promise.all(Array.from({ length: n }, (_, i) => createJob(api, { deployId: probe, payload: { label: `${label}-${i}` } })));

  const expectAllSucceeded = async (ids: string[]) => {
    for (const id of ids) expect(await waitTerminal(api, id, { timeoutMs: 60_000 })).toMatchObject({ status: 'succeeded' });
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'press-render-process-'));
    const serve = await spawnServe(dataDir, {}, { PRESS_RENDER_CONCURRENCY: '2', PRESS_RENDER_PROCESS_HEAP_MB: '128' });
    child = serve.child;
    banner = serve.stderr;
    api = httpClient(serve.url, serve.key);
    probe = (await deployDir(api as unknown as TestServer, PROBE_DIR, { slug: 'probe' })).deployId;
    hostile = (await deployDir(api as unknown as TestServer, HOSTILE_DIR, { slug: 'hostile' })).deployId;
    await renderPid();
  }, 60_000);

  afterAll(async () => {
    if (child?.pid) stray.push(...descendants(child.pid));
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
    }
    for (const pid of stray) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('says which isolation and sandbox mode is in force, in /readyz and the startup banner', async () => {
    const detail = (await api.request('GET', '/readyz')).body.checks.renderer.detail;
    expect(detail.isolation).toMatchObject({ mode: 'process', restarts: 0 });
    expect(detail.networkGuard.proxy).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    for (let i = 0; i < 50 && !banner().includes('Chromium sandbox'); i++) await sleep(100);
    if (process.getuid?.() === 0) {
      // As root (CI): Chromium runs as nobody with its sandbox (test/renderer/chromium-sandbox.test.ts checks /proc).
      expect(detail.sandbox).toMatchObject({ enabled: true, user: 'nobody', reason: expect.stringMatching(/runs as root/) });
      expect(banner()).toMatch(/Renders: in a supervised render process; Chromium sandbox: on, as nobody \(/);
    } else {
      expect(detail.sandbox).toMatchObject({ enabled: expect.any(Boolean), reason: expect.any(String) });
      expect(banner()).toMatch(/Chromium sandbox: (on|OFF)/);
    }
  });

  it(`a flooding page fails with render_resource_limit; the API's RSS moves by < ${API_RSS_BOUND_MIB} MiB`, async () => {
    const apiPid = child!.pid!;
    const before = rssMiB(apiPid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(apiPid))), 50);
    try {
      // Output floods, and memory floods outside the JavaScript heap (killed at PRESS_RENDER_MEMORY_MIB).
      const floods = await Promise.all(
        ['console-log-flood', 'console-error-flood', 'worker-console-flood', 'array-buffer-hog', 'canvas-hog'].map((kind) =>
          createJob(api, { deployId: hostile, payload: { kind } }),
        ),
      );
      const others = await normalJobs(4, 'flood');
      await apiAnswers();
      for (const f of floods) {
        expect(await waitTerminal(api, f.id, { timeoutMs: 60_000 })).toMatchObject({
          status: 'failed',
          attempt: 0,
          error: { code: 'render_resource_limit' },
        });
      }
      await expectAllSucceeded(others.map((j) => j.id));
    } finally {
      clearInterval(sampler);
    }
    if (process.env.PRESS_TEST_VERBOSE) console.log(`API RSS before ${before.toFixed(1)} MiB, peak ${peak.toFixed(1)} MiB`);
    expect(peak - before).toBeLessThan(API_RSS_BOUND_MIB);
  }, 120_000);

  it('kill -9 of the render process: the API answers, its job is retried and every job succeeds', async () => {
    const pid = await renderPid();
    const slow = await createJob(api, { deployId: probe, entry: 'slow.html', payload: { delayMs: 3000, label: 'killed' } });
    await waitStatus(api, slow.id, 'rendering', { timeoutMs: 30_000 });
    stray.push(...descendants(pid));
    const profile = userDataDir(pid)!;
    expect(profile).toMatch(/press-render-\d+-\d+\/tmp\/playwright_chromiumdev_profile-/);
    process.kill(pid, 'SIGKILL');
    const others = await normalJobs(4, 'kill');
    await apiAnswers();
    const next = await renderPid(pid);
    expect(alive(pid)).toBe(false);
    // Nothing of the killed process's Chromium is left on disk; its successor's profile is in the same directory.
    expect(existsSync(profile)).toBe(false);
    for (let i = 0; i < 100 && !userDataDir(next); i++) await sleep(100);
    expect(dirname(userDataDir(next)!)).toBe(dirname(profile));
    await apiAnswers();
    expect(await waitTerminal(api, slow.id, { timeoutMs: 60_000 })).toMatchObject({ status: 'succeeded', attempt: 1 });
    await expectAllSucceeded(others.map((j) => j.id));
    // Chromium went down with the process it belonged to.
    await sleep(500);
    expect(stray.filter((p) => alive(p) && !descendants(child!.pid!).includes(p))).toEqual([]);
  }, 120_000);

  it('out of memory in the render process: the API answers, the page fails after its attempts, every other job succeeds', async () => {
    const pid = await renderPid();
    const oom = await createJob(api, { deployId: hostile, payload: { kind: 'one-huge-message' } });
    const others = await normalJobs(4, 'oom');
    const deadline = Date.now() + 20_000;
    while (alive(pid) && Date.now() < deadline) {
      await apiAnswers();
      await sleep(100);
    }
    expect(alive(pid)).toBe(false);
    await apiAnswers();
    await expectAllSucceeded(others.map((j) => j.id));
    const done = await waitTerminal(api, oom.id, { timeoutMs: 90_000 });
    expect(done).toMatchObject({ status: 'failed', error: { code: 'render_internal_error' } });
    expect(done.error.message).toMatch(/render process/);
    expect(done.attempt).toBe(2); // retries: three attempts in all
    await renderPid(pid);
    await apiAnswers();
    await expectAllSucceeded((await normalJobs(2, 'after')).map((j) => j.id));
  }, 180_000);
});
