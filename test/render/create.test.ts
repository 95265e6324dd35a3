import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir } from '../helpers/deploy-dir.js';
import { pdfText } from '../helpers/pdf.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { deployFiles } from '../helpers/uploads.js';
import { PROBE_DIR, createJob, expectError, getOutput, unknownId, waitStatus, waitTerminal } from './support.js';

describe('render jobs: create, payloads, idempotency, list, deploy deletion', () => {
  let s: TestServer;
  let deployId: string;
  let v1: string;
  let v2: string;

  beforeAll(async () => {
    s = await startTestServer();
    const first = await deployDir(s, PROBE_DIR, { slug: 'probe' }, { aliases: ['preview'] });
    deployId = first.deployId;
    v1 = first.deployVersionId;
    // a second version (one more file) becomes `latest`; `preview` stays on the first. The clock moves 1 ms:
    // versions committed in the same millisecond have no defined order (ids are time + randomness)
    s.clock.advance(1);
    const second = await deployFiles(s, { deployId }, [...first.files, { path: 'extra.txt', content: 'v2', mime: 'text/plain' }]);
    v2 = second.deployVersion.id;
  });
  afterAll(async () => {
    await s?.stop();
  });

  /** the payload probe's printed text for a finished job */
  async function renderedText(jobId: string) {
    const job = await waitTerminal(s, jobId);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    const out = await getOutput(s, jobId);
    expect(out.status).toBe(200);
    return pdfText(out.body);
  }

  it('POST /v1/render-jobs applies the defaults: latest version, transient, null JSON payload, index.html', async () => {
    const res = await s.request('POST', '/v1/render-jobs', { json: { deployId } });
    expect(res.status, res.text).toBe(202);
    expect(res.body).toEqual({
      accepted: true,
      queue: 'default',
      job: expect.objectContaining({
        id: expect.stringMatching(/^rj_/), deployId, deployVersionId: v2, businessKey: null, entry: 'index.html', status: 'queued',
        attempt: 0, maxAttempts: 3, outputMode: 'transient', requestedAt: s.clock.now(), startedAt: null, finishedAt: null,
        nextAttemptAt: null, error: null, output: null,
      }),
    });
    const done = await waitTerminal(s, res.body.job.id);
    expect(done.status).toBe('succeeded');
    expect(done.output).toMatchObject({ fileName: `${done.id}.pdf`, pageCount: 1, pdfId: null, expired: false });
    expect(done.output.expiresAt).toBe(done.finishedAt + 24 * 3600_000);

    const nullPayload = await createJob(s, { deployId, entry: 'payload.html' });
    const text = await renderedText(nullPayload.id);
    expect(text).toContain('TYPE[application/json; charset=utf-8]');
    expect(text).toContain('PAYLOAD[null]');
  });

  it('POST /v1/deploys/{id}/render-jobs takes the deploy from the path; a different body deployId → 400', async () => {
    const res = await s.request('POST', `/v1/deploys/${deployId}/render-jobs`, { json: { businessKey: 'by-path' } });
    expect(res.status, res.text).toBe(202);
    expect(res.body.job).toMatchObject({ deployId, deployVersionId: v2, businessKey: 'by-path', status: 'queued' });
    const same = await s.request('POST', `/v1/deploys/${deployId}/render-jobs`, { json: { deployId } });
    expect(same.status, same.text).toBe(202);

    const other = await deployDir(s, PROBE_DIR, { slug: 'probe-other' });
    const mismatch = await s.request('POST', `/v1/deploys/${deployId}/render-jobs`, { json: { deployId: other.deployId } });
    expectError(mismatch, 400, 'invalid_input');
    expectError(await s.request('POST', `/v1/deploys/${unknownId('dpl')}/render-jobs`, { json: {} }), 404, 'deploy_not_found');
    expectError(await s.request('POST', `/v1/deploys/not-a-deploy/render-jobs`, { json: {} }), 400, 'invalid_path_param');
    await waitTerminal(s, res.body.job.id);
    await waitTerminal(s, same.body.job.id);
  });

  it('resolves latest, aliases and dv_ ids to the stored dv_ id; unknown ones → 404', async () => {
    const preview = await createJob(s, { deployId, deployVersionId: 'preview' });
    expect(preview.deployVersionId).toBe(v1);
    const latest = await createJob(s, { deployId, deployVersionId: 'latest' });
    expect(latest.deployVersionId).toBe(v2);
    const pinned = await createJob(s, { deployId, deployVersionId: v1 });
    expect(pinned.deployVersionId).toBe(v1);
    const got = await s.request('GET', `/v1/render-jobs/${preview.id}`);
    expect(got.body.job.deployVersionId).toBe(v1);

    expectError(await s.request('POST', '/v1/render-jobs', { json: { deployId, deployVersionId: 'no-such-alias' } }), 404, 'deploy_version_not_found');
    expectError(await s.request('POST', '/v1/render-jobs', { json: { deployId, deployVersionId: unknownId('dv') } }), 404, 'deploy_version_not_found');
    expectError(await s.request('POST', '/v1/render-jobs', { json: { deployId: unknownId('dpl') } }), 404, 'deploy_not_found');
    const empty = await s.request('POST', '/v1/deploys', { json: { slug: 'empty', name: 'Empty' } });
    expectError(await s.request('POST', '/v1/render-jobs', { json: { deployId: empty.body.deploy.id } }), 404, 'deploy_version_not_found');
    // another account's deploy and version are not found either
    const b = await s.newAccount('b-create');
    expectError(await s.request('POST', '/v1/render-jobs', { key: b.keys.editor, json: { deployId } }), 404, 'deploy_not_found');
    for (const j of [preview, latest, pinned]) expect((await waitTerminal(s, j.id)).status).toBe('succeeded');
  });

  it('rejects bad bodies with 400 invalid_input and a viewer with 403', async () => {
    const bad = async (json: unknown) => expectError(await s.request('POST', '/v1/render-jobs', { json }), 400, 'invalid_input');
    await bad({});
    await bad({ deployId, outputMode: 'forever' });
    await bad({ deployId, payload: { a: 1 }, payloadBase64: 'YQ==', payloadMime: 'text/plain' });
    await bad({ deployId, payloadBase64: 'YQ==' });
    await bad({ deployId, payloadBase64: 'YQ==', payloadMime: 'application/json' });
    await bad({ deployId, payloadBase64: 'YQ==', payloadMime: 'application/vnd.api+json; charset=utf-8' });
    await bad({ deployId, payloadBase64: 'not base64!', payloadMime: 'text/plain' });
    await bad({ deployId, payloadBase64: 'YQ=', payloadMime: 'text/plain' });
    await bad({ deployId, payload: { a: 1 }, payloadMime: 'text/plain' });
    await bad({ deployId, entry: '../etc/passwd' });
    await bad({ deployId, fileName: 'a/b.pdf' });
    const malformed = await s.request('POST', '/v1/render-jobs', { body: '{"deployId":', headers: { 'content-type': 'application/json' } });
    expectError(malformed, 400, 'invalid_input');
    const viewer = await s.request('POST', '/v1/render-jobs', { key: (await s.newAccount('viewer-only')).keys.viewer, json: { deployId } });
    expectError(viewer, 403, 'insufficient_permission');
  });

  it('payloads over 10 MB → 400 (JSON and base64)', async () => {
    const big = 'x'.repeat(10 * 1024 * 1024 + 16);
    const json = await s.request('POST', '/v1/render-jobs', { json: { deployId, payload: big } });
    expectError(json, 400, 'invalid_input');
    expect(json.body.message).toMatch(/limit/);
    const b64 = await s.request('POST', '/v1/render-jobs', { json: { deployId, payloadBase64: Buffer.alloc(10 * 1024 * 1024 + 1, 7).toString('base64'), payloadMime: 'application/octet-stream' } });
    expectError(b64, 400, 'invalid_input');
    // exactly at the limit is fine
    const atLimit = Buffer.alloc(10 * 1024 * 1024, 1);
    const ok = await s.request('POST', '/v1/render-jobs', { json: { deployId, payloadBase64: atLimit.toString('base64'), payloadMime: 'application/octet-stream' } });
    expect(ok.status, ok.text.slice(0, 300)).toBe(202);
    expect((await waitTerminal(s, ok.body.job.id)).status).toBe('succeeded');
  });

  it('serves JSON payloads canonicalised and binary payloads verbatim with their mime; payloads go at the end', async () => {
    await s.worker.stop();
    let json: any;
    let csv: any;
    try {
      json = await createJob(s, { deployId, entry: 'payload.html', payload: { b: 1, a: 2, nested: { z: [3, { y: 1, x: 2 }], c: 'é' } } });
      const csvText = 'sku,qty\nWIDGET-9,12\nGADGET-3,7\n';
      csv = await createJob(s, { deployId, entry: 'payload.html', payloadBase64: Buffer.from(csvText).toString('base64'), payloadMime: 'text/csv; charset=utf-8' });
      const stored = await s.deps.db.renderJobs.payload(json.id);
      expect(stored?.body.toString()).toBe('{"a":2,"b":1,"nested":{"c":"é","z":[3,{"x":2,"y":1}]}}');
      expect(stored?.mime).toBe('application/json; charset=utf-8');
      expect((await s.deps.db.renderJobs.payload(csv.id))?.body.toString()).toBe(csvText);
    } finally {
      s.worker.start();
    }
    const jsonText = await renderedText(json.id);
    expect(jsonText).toContain('PAYLOAD[{"a":2,"b":1,"nested":{"c":"é","z":[3,{"x":2,"y":1}]}}]');
    const csvPdf = await renderedText(csv.id);
    expect(csvPdf).toContain('TYPE[text/csv; charset=utf-8]');
    expect(csvPdf).toMatch(/PAYLOAD\[sku,qty WIDGET-9,12 GADGET-3,7 ?\]/);
    // deleted once the job is terminal
    expect(await s.deps.db.renderJobs.payload(json.id)).toBeNull();
    expect(await s.deps.db.renderJobs.payload(csv.id)).toBeNull();
  });

  it('Idempotency-Key: a repeat returns the same job (replayed), a different body → 422', async () => {
    const headers = { 'idempotency-key': 'create-job-1' };
    const body = { deployId, businessKey: 'idem-1', payload: { n: 1 } };
    const first = await s.request('POST', '/v1/render-jobs', { json: body, headers });
    expect(first.status, first.text).toBe(202);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await s.request('POST', '/v1/render-jobs', { json: body, headers });
    expect(again.status, again.text).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    const list = await s.request('GET', '/v1/render-jobs?businessKey=idem-1');
    expect(list.body.items.map((j: any) => j.id)).toEqual([first.body.job.id]);
    const mismatch = await s.request('POST', '/v1/render-jobs', { json: { ...body, payload: { n: 2 } }, headers });
    expectError(mismatch, 422, 'idempotency_key_mismatch');
    // the key is scoped to the route: the deploy-scoped create is a different scope
    const otherRoute = await s.request('POST', `/v1/deploys/${deployId}/render-jobs`, { json: body, headers });
    expect(otherRoute.status).toBe(202);
    expect(otherRoute.body.job.id).not.toBe(first.body.job.id);
    await waitTerminal(s, first.body.job.id);
    await waitTerminal(s, otherRoute.body.job.id);
  });

  it('Idempotency-Key reused while the first request still holds (?wait) → 409; afterwards the stored answer', async () => {
    const headers = { 'idempotency-key': 'create-slow-1' };
    const body = { deployId, entry: 'slow.html', payload: { delayMs: 1500 } };
    const firstP = s.request('POST', '/v1/render-jobs?wait=20', { json: body, headers });
    await new Promise((r) => setTimeout(r, 300));
    expectError(await s.request('POST', '/v1/render-jobs', { json: body, headers }), 409, 'idempotency_key_in_use');
    const first = await firstP;
    expect(first.status, first.text).toBe(202);
    expect(first.body.job.status).toBe('succeeded');
    const replay = await s.request('POST', '/v1/render-jobs', { json: body, headers });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(first.body);
  });

  it('GET /v1/render-jobs filters by deployId, status and businessKey and paginates newest first', async () => {
    const other = await deployDir(s, PROBE_DIR, { slug: 'list-other' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      s.clock.advance(1);
      ids.push((await createJob(s, { deployId: other.deployId, businessKey: `list-${i % 2}` })).id);
    }
    for (const id of ids) await waitTerminal(s, id);

    const byDeploy = await s.request('GET', `/v1/render-jobs?deployId=${other.deployId}`);
    expect(byDeploy.status).toBe(200);
    expect(byDeploy.body.items.map((j: any) => j.id)).toEqual([...ids].reverse());
    expect(byDeploy.body.nextCursor).toBeNull();

    const byKey = await s.request('GET', `/v1/render-jobs?deployId=${other.deployId}&businessKey=list-0`);
    expect(byKey.body.items.map((j: any) => j.id)).toEqual([ids[4], ids[2], ids[0]]);
    const byStatus = await s.request('GET', `/v1/render-jobs?deployId=${other.deployId}&status=succeeded`);
    expect(byStatus.body.items).toHaveLength(5);
    const none = await s.request('GET', `/v1/render-jobs?deployId=${other.deployId}&status=failed`);
    expect(none.body).toEqual({ items: [], nextCursor: null });

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: any = await s.request('GET', `/v1/render-jobs?deployId=${other.deployId}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status, res.text).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((j: any) => j.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());

    expectError(await s.request('GET', '/v1/render-jobs?status=done'), 400, 'invalid_query_param');
    expectError(await s.request('GET', '/v1/render-jobs?limit=0'), 400, 'invalid_query_param');
    expectError(await s.request('GET', '/v1/render-jobs?limit=101'), 400, 'invalid_query_param');
    expectError(await s.request('GET', '/v1/render-jobs?cursor=%%%bad'), 400, 'invalid_query_param');
    expectError(await s.request('GET', '/v1/render-jobs?colour=red'), 400, 'invalid_query_param');
    expectError(await s.request('GET', `/v1/render-jobs/${ids[0]}?wait=61`), 400, 'invalid_query_param');
    expectError(await s.request('POST', '/v1/render-jobs?wait=-1', { json: { deployId } }), 400, 'invalid_query_param');
    expectError(await s.request('GET', '/v1/render-jobs/not-a-job'), 400, 'invalid_path_param');
    // tenants see only their own jobs
    const b = await s.newAccount('b-list');
    expect((await s.request('GET', '/v1/render-jobs', { key: b.keys.viewer })).body).toEqual({ items: [], nextCursor: null });
    expectError(await s.request('GET', `/v1/render-jobs/${ids[0]}`, { key: b.keys.viewer }), 404, 'render_job_not_found');
  });

  it('deleting a deploy cancels its queued and rendering jobs', async () => {
    const doomed = await deployDir(s, PROBE_DIR, { slug: 'doomed' });
    const kept = await createJob(s, { deployId: doomed.deployId, outputMode: 'managed' }, { wait: 20 });
    const keptDone = kept.status === 'succeeded' ? kept : await waitTerminal(s, kept.id);
    expect(keptDone.output.pdfId).toMatch(/^pdf_/);
    // one more slow job than the renderer has slots: `capacity` render, the last waits in the queue
    const jobs = [];
    for (let i = 0; i <= s.renderer.capacity; i++) {
      s.clock.advance(1);
      jobs.push(await createJob(s, { deployId: doomed.deployId, entry: 'slow.html', payload: { delayMs: 5000 } }));
    }
    for (const j of jobs.slice(0, -1)) await waitStatus(s, j.id, 'rendering');
    expect((await s.request('GET', `/v1/render-jobs/${jobs.at(-1).id}`)).body.job.status).toBe('queued');
    const res = await s.request('DELETE', `/v1/deploys/${doomed.deployId}`);
    expect(res.status, res.text).toBe(204);
    for (const j of jobs) {
      const job = (await s.request('GET', `/v1/render-jobs/${j.id}`)).body.job;
      expect(job.status).toBe('canceled');
      expect(job.output).toBeNull();
      expect(await s.deps.db.renderJobs.payload(j.id)).toBeNull();
    }
    // the aborted renders give their slots back at once, and the jobs stay canceled
    const deadline = Date.now() + 5000;
    while (s.worker.activeCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(s.worker.activeCount).toBe(0);
    const next = await createJob(s, { deployId, businessKey: 'after-delete' }, { wait: 20 });
    expect((next.status === 'succeeded' ? next : await waitTerminal(s, next.id)).status).toBe('succeeded');
    for (const j of jobs) expect((await s.request('GET', `/v1/render-jobs/${j.id}`)).body.job.status).toBe('canceled');
    // managed PDFs outlive their deploy; the finished job is untouched
    expect((await s.request('GET', `/v1/pdfs/${keptDone.output.pdfId}`)).body.pdf).toMatchObject({ deployId: doomed.deployId, state: 'available' });
    expect((await s.request('GET', `/v1/pdfs/${keptDone.output.pdfId}/content`)).status).toBe(200);
    expect((await s.request('GET', `/v1/render-jobs/${kept.id}`)).body.job.status).toBe('succeeded');
  });

  it('?wait requests answer at once with the job as it is when the server shuts down', async () => {
    const own = await startTestServer();
    try {
      const { deployId: probe } = await deployDir(own, PROBE_DIR, { slug: 'probe' });
      await own.worker.stop(); // the job stays queued: nothing would end the wait but the 60 s
      const started = Date.now();
      const held = own.request('POST', '/v1/render-jobs?wait=60', { json: { deployId: probe } });
      const polled = (async () => {
        await new Promise((r) => setTimeout(r, 300));
        const list = await own.request('GET', '/v1/render-jobs');
        return own.request('GET', `/v1/render-jobs/${list.body.items[0].id}?wait=60`);
      })();
      await new Promise((r) => setTimeout(r, 600));
      await own.stop();
      const [create, get] = await Promise.all([held, polled]);
      expect(create.status, create.text).toBe(202);
      expect(create.body.job.status).toBe('queued');
      expect(get.status, get.text).toBe(200);
      expect(get.body.job.status).toBe('queued');
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await own.stop().catch(() => undefined);
    }
  });
});
