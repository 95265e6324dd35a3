import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ManualClock } from '../../src/domain/clock.js';
import { startServer, type RunningServer } from '../../src/start/server.js';
import { deployDir } from '../helpers/deploy-dir.js';
import { pdfText } from '../helpers/pdf.js';
import { alive, descendants } from '../helpers/processes.js';
import { startTestBackend, type TestServer } from '../helpers/server.js';
import { PROBE_DIR, createJob, fetchBytes, httpClient, sleep, spawnServe, waitStatus, waitTerminal } from './support.js';

describe('a worker killed mid-render', () => {
  let dataDir = '';
  let child: ChildProcess | null = null;
  let orphans: number[] = [];
  let server: RunningServer | null = null;
  /** SQLite + disk in dataDir, or (PRESS_TEST_BACKEND=distributed) PostgreSQL + S3 */
  let backend: Awaited<ReturnType<typeof startTestBackend>> | null = null;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'press-killed-'));
    backend = await startTestBackend();
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const pid of orphans) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await server?.close({ abort: true });
    await backend?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('loses its lease; a new server reclaims the job and renders it exactly once, on attempt 2', async () => {
    const serve = await spawnServe(dataDir, backend!.env);
    child = serve.child;
    const api = httpClient(serve.url, serve.key);
    const { deployId } = await deployDir(api as unknown as TestServer, PROBE_DIR, { slug: 'probe' });
    const job = await createJob(api, { deployId, entry: 'slow.html', payload: { delayMs: 4000, label: 'survivor' } });
    const rendering = await waitStatus(api, job.id, 'rendering', { timeoutMs: 30_000 });
    expect(rendering.attempt).toBe(0);
    await sleep(300);

    // kill -9: no shutdown hook runs, the lease is simply left to lapse
    orphans = descendants(child.pid!);
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    await sleep(200);
    for (const pid of orphans) if (alive(pid)) process.kill(pid, 'SIGKILL');

    // a new server on the same data directory, its job clock a minute on (far past the 2 s lease)
    const clock = new ManualClock(Date.now() + 60_000);
    server = await startServer(loadConfig({ ...backend!.env, PORT: '0', HOST: '127.0.0.1', PRESS_DATA_DIR: dataDir, LOG_LEVEL: 'warn' }), { clock, logger: false });
    expect(server.bootstrapKey).toBeNull();
    const api2 = httpClient(server.url, serve.key);
    await server.worker.maintain();
    const reclaimed = (await api2.request('GET', `/v1/render-jobs/${job.id}`)).body.job;
    expect(reclaimed).toMatchObject({ status: 'retry_scheduled', attempt: 0, error: { code: 'render_internal_error' }, output: null });
    expect(reclaimed.nextAttemptAt).toBeGreaterThan(clock.now());
    expect(await server.deps.db.renderJobs.payload(job.id)).not.toBeNull();

    clock.advance(10_000);
    await server.worker.maintain();
    const done = await waitTerminal(api2, job.id, { timeoutMs: 30_000 });
    expect(done).toMatchObject({ status: 'succeeded', attempt: 1, error: null });
    const pdf = await fetchBytes(`${server.url}/v1/render-jobs/${job.id}/output`, serve.key);
    expect(pdf.status).toBe(200);
    expect(await pdfText(pdf.body)).toContain('SLOW DONE survivor');
    const outputs: string[] = [];
    for await (const o of server.deps.blobs.list('outputs')) outputs.push(o.key);
    expect(outputs.filter((f) => f.includes(job.id))).toHaveLength(1);

    // and nothing renders it again
    clock.advance(60_000);
    await server.worker.maintain();
    await sleep(300);
    expect((await api2.request('GET', `/v1/render-jobs/${job.id}`)).body.job).toMatchObject({ status: 'succeeded', attempt: 1 });
    const usage = (await api2.request('GET', '/v1/usage')).body;
    expect(usage.usageMeters.find((m: any) => m.code === 'render_jobs').totalQuantity).toBe(1);
  }, 60_000);
});
