/**
 * A worker that lost its lease while rendering (stalled, cut off from the database) finishes late, after another
 * worker re-rendered the job and recorded its output. The late attempt must neither delete nor overwrite that output
 * (with one key per job it did both: the job ended `succeeded` with no PDF, or with bytes of another length than
 * recorded), and an attempt whose worker died between storing and recording leaves no stray object once the job
 * succeeds.
 * Runs on the configured test backend (npm run test:cluster: PostgreSQL + S3; embedded without PRESS_TEST_BACKEND).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { RenderWorker, transientOutputKey } from '../../src/workers/render-worker.js';
import { emptyDiagnostics } from '../../packages/engine/src/renderer.js';
import type { Renderer, RenderRequest, RenderResult } from '../../packages/engine/src/renderer.js';
import { deployFiles } from '../helpers/uploads.js';
import { PG_SKIP_REASON, PG_TEST_URL } from '../helpers/backends.js';
import { TEST_BACKEND, startTestServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

/** A renderer whose renders each wait for the test to release them; the PDF says which render made it. */
class GatedRenderer implements Renderer {
  readonly capacity = 1;
  readonly calls: { jobId: string; release: () => void }[] = [];
  constructor(private readonly label: string) {}
  async render(req: RenderRequest): Promise<RenderResult> {
    await new Promise<void>((resolve) => this.calls.push({ jobId: req.jobId, release: resolve }));
    const pdf = Buffer.from(`%PDF-1.4\n% rendered by ${this.label}\n%%EOF\n`);
    return { pdf, bytes: pdf.length, pageCount: 1, timings: { queueMs: 0, acquirePageMs: 0, navigateMs: 0, readyMs: 0, pdfMs: 0, inspectMs: 0, totalMs: 1 }, diagnostics: emptyDiagnostics() };
  }
  status() {
    return { engine: 'gated', executablePath: null, version: null, ready: true, restarts: 0, active: this.calls.length, queued: 0, contexts: 0, error: null };
  }
  async start() {}
  async close() {}
}

const noPostgres = TEST_BACKEND === 'distributed' && !PG_TEST_URL;
if (noPostgres) {
  describe('a worker that lost its lease mid-render', () => {
    it.skip(`skipped: ${PG_SKIP_REASON}`, () => {});
  });
}

describe.skipIf(noPostgres)('a worker that lost its lease mid-render', () => {
  let s: TestServer;
  const late = new GatedRenderer('the worker that lost its lease');
  const other = new GatedRenderer('the worker that took the job over');
  let b: RenderWorker;

  beforeAll(async () => {
    // 30 s leases, heartbeats every 10 s (real time): none runs during the test; lease time is the manual clock
    s = await startTestServer({ PRESS_JOB_LEASE_SECONDS: '30' }, { renderer: late });
    // a second worker on the same stores (what another node runs), started once the first one holds the job; it
    // maintains the queue only when told to
    b = new RenderWorker(s.deps, other, { leaseMs: 30_000, pollMs: 3_600_000 });
  });
  afterAll(async () => {
    for (const r of [late, other]) for (const c of r.calls) c.release();
    await b?.stop();
    await s?.stop();
  });

  it('neither deletes nor overwrites the output the attempt that took over recorded', async () => {
    const { deployId } = await deployFiles(s, { createDeploy: { slug: 'lease-loss', name: 'lease loss' } }, [{ path: 'index.html', content: '<p>x</p>' }]);
    const created = await s.request('POST', '/v1/render-jobs', { json: { deployId } });
    expect(created.status, created.text).toBe(202);
    const jobId = created.body.job.id as string;
    await until(() => late.calls.length === 1, 10_000, 'the first worker to start rendering');
    b.start();

    // its lease lapses (clock), the job is reclaimed and retried on the other worker
    s.clock.advance(31_000);
    await b.maintain();
    expect((await s.deps.db.renderJobs.getById(jobId))!.status).toBe('retry_scheduled');
    s.clock.advance(3_000);
    await b.maintain();
    await until(() => other.calls.length === 1, 10_000, 'the second worker to start rendering');
    expect((await s.deps.db.renderJobs.getById(jobId))!).toMatchObject({ status: 'rendering', attempt: 2 });

    // what a worker killed between storing and recording would have left: attempt 1's object
    await s.deps.blobs.put(transientOutputKey(jobId, 1), Readable.from([Buffer.from('%PDF-1.4 stray')]));
    // the new attempt stores its output, succeeds and removes the stray …
    other.calls[0].release();
    await until(async () => (await s.deps.db.renderJobs.getById(jobId))!.status === 'succeeded', 10_000, 'the job to succeed');
    await until(async () => (await s.storedKeys('outputs')).filter((k) => k.includes(jobId)).length === 1, 10_000, 'the stray output to go');
    expect(await s.storedKeys('outputs')).toContain(transientOutputKey(jobId, 2));
    // … then the stalled one finishes, writes the same key, and is refused
    late.calls[0].release();
    await until(() => s.worker.activeCount === 0, 10_000, 'the stalled render to settle');

    const job = (await s.request('GET', `/v1/render-jobs/${jobId}`)).body.job;
    expect(job).toMatchObject({ status: 'succeeded', attempt: 1 }); // the API counts retries (spec §9.2): the second attempt is retry 1
    const out = await fetch(`${s.url}/v1/render-jobs/${jobId}/output`, { headers: { authorization: `Bearer ${s.adminKey}` } });
    expect(out.status).toBe(200);
    // the recorded output, untouched by the late attempt
    expect(await out.text()).toContain('rendered by the worker that took the job over');
    expect((await s.storedKeys('outputs')).filter((k) => k.includes(jobId))).toEqual([transientOutputKey(jobId, 2)]);
  });
});
