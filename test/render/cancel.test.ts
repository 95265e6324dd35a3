import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir } from '../helpers/deploy-dir.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { PROBE_DIR, createJob, expectError, sleep, storedObjects, unknownId, waitStatus, waitTerminal } from './support.js';

describe('canceling render jobs', () => {
  let s: TestServer;
  let deployId: string;

  beforeAll(async () => {
    // one render slot, so "the next job renders" proves the canceled render gave its slot back
    s = await startTestServer({ PRESS_RENDER_CONCURRENCY: '1' });
    deployId = (await deployDir(s, PROBE_DIR, { slug: 'probe' })).deployId;
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('cancels a queued job: 200 canceled, payload gone, never rendered', async () => {
    await s.worker.stop();
    let job: any;
    try {
      job = await createJob(s, { deployId, payload: { n: 1 } });
      expect(job.status).toBe('queued');
      const res = await s.request('POST', `/v1/render-jobs/${job.id}/cancel`, { json: {} });
      expect(res.status, res.text).toBe(200);
      expect(res.body.job).toMatchObject({ id: job.id, status: 'canceled', attempt: 0, output: null, error: null, startedAt: null, finishedAt: s.clock.now() });
      expect(await s.deps.db.renderJobs.payload(job.id)).toBeNull();
    } finally {
      s.worker.start();
    }
    await s.worker.maintain();
    await sleep(200);
    const after = (await s.request('GET', `/v1/render-jobs/${job.id}`)).body.job;
    expect(after).toMatchObject({ status: 'canceled', attempt: 0, startedAt: null });
    expectError(await s.request('GET', `/v1/render-jobs/${job.id}/output`), 404, 'render_job_output_not_found');
  });

  it('cancel takes an empty request (no body) as well', async () => {
    await s.worker.stop();
    let job: any;
    try {
      job = await createJob(s, { deployId });
      const res = await s.request('POST', `/v1/render-jobs/${job.id}/cancel`);
      expect(res.status, res.text).toBe(200);
      expect(res.body.job.status).toBe('canceled');
    } finally {
      s.worker.start();
    }
  });

  it('cancels a rendering job: it stays canceled, leaves no output, and the render slot frees up', async () => {
    const slow = await createJob(s, { deployId, entry: 'slow.html', payload: { delayMs: 3000, label: 'canceled' } });
    await waitStatus(s, slow.id, 'rendering');
    await sleep(300);
    const t0 = Date.now();
    const res = await s.request('POST', `/v1/render-jobs/${slow.id}/cancel`, { json: {} });
    expect(res.status, res.text).toBe(200);
    expect(res.body.job).toMatchObject({ status: 'canceled', attempt: 0, output: null, error: null });
    expect(await s.deps.db.renderJobs.payload(slow.id)).toBeNull();

    // the only slot is free again well before the slow page would have finished
    while (s.worker.activeCount > 0 && Date.now() - t0 < 2500) await sleep(20);
    expect(s.worker.activeCount).toBe(0);
    const next = await createJob(s, { deployId, businessKey: 'after-cancel' }, { wait: 20 });
    const done = next.status === 'succeeded' ? next : await waitTerminal(s, next.id);
    expect(done.status).toBe('succeeded');
    expect(s.renderer.status().active).toBe(0);

    await sleep(Math.max(0, 3500 - (Date.now() - t0))); // past the slow page's own finish
    const after = (await s.request('GET', `/v1/render-jobs/${slow.id}`)).body.job;
    expect(after).toMatchObject({ status: 'canceled', output: null });
    expect((await storedObjects(s, 'outputs')).filter((p) => p.includes(slow.id))).toEqual([]);
    expectError(await s.request('GET', `/v1/render-jobs/${slow.id}/output`), 404, 'render_job_output_not_found');
  });

  it('a terminal job cannot be canceled (409); other accounts and viewers cannot cancel', async () => {
    const job = await createJob(s, { deployId }, { wait: 20 });
    const done = job.status === 'succeeded' ? job : await waitTerminal(s, job.id);
    expect(done.status).toBe('succeeded');
    expectError(await s.request('POST', `/v1/render-jobs/${job.id}/cancel`, { json: {} }), 409, 'render_job_already_terminal');
    expect((await s.request('GET', `/v1/render-jobs/${job.id}`)).body.job.status).toBe('succeeded');

    const b = await s.newAccount('other');
    expectError(await s.request('POST', `/v1/render-jobs/${job.id}/cancel`, { key: b.keys.admin, json: {} }), 404, 'render_job_not_found');
    expectError(await s.request('GET', `/v1/render-jobs/${job.id}`, { key: b.keys.admin }), 404, 'render_job_not_found');
    expectError(await s.request('DELETE', `/v1/render-jobs/${job.id}`, { key: b.keys.admin }), 404, 'render_job_not_found');
    expectError(await s.request('POST', `/v1/render-jobs/${unknownId('rj')}/cancel`, { json: {} }), 404, 'render_job_not_found');

    await s.worker.stop();
    try {
      const queued = await createJob(s, { deployId });
      const viewer = (await s.newAccount('viewers')).keys;
      // a viewer of another account learns nothing: the same answer for this job as for a job that does not exist
      const theirs = await s.request('POST', `/v1/render-jobs/${queued.id}/cancel`, { key: viewer.viewer, json: {} });
      const nobody = await s.request('POST', `/v1/render-jobs/${unknownId('rj')}/cancel`, { key: viewer.viewer, json: {} });
      expect([theirs.status, theirs.body.error]).toEqual([nobody.status, nobody.body.error]);
      expect(theirs.status).not.toBe(200);
      const ownViewer = await s.request('POST', '/v1/api-keys', { json: { name: 'v', role: 'viewer' } });
      expect(ownViewer.status, ownViewer.text).toBe(201);
      expectError(await s.request('POST', `/v1/render-jobs/${queued.id}/cancel`, { key: ownViewer.body.key, json: {} }), 403, 'insufficient_permission');
      const canceled = await s.request('POST', `/v1/render-jobs/${queued.id}/cancel`, { json: {} });
      expect(canceled.body.job.status).toBe('canceled');
      expectError(await s.request('POST', `/v1/render-jobs/${queued.id}/cancel`, { json: {} }), 409, 'render_job_already_terminal');
    } finally {
      s.worker.start();
    }
  });
});
