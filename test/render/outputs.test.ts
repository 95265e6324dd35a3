import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir } from '../helpers/deploy-dir.js';
import { pdfText } from '../helpers/pdf.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { PROBE_DIR, createJob, expectError, fetchBytes, getOutput, storedObjects, unknownId, waitStatus, waitTerminal } from './support.js';

const DAY = 24 * 3600_000;

describe('render outputs, signed links and managed PDFs', () => {
  let s: TestServer;
  let deployId: string;

  beforeAll(async () => {
    s = await startTestServer();
    deployId = (await deployDir(s, PROBE_DIR, { slug: 'probe' })).deployId;
  });
  afterAll(async () => {
    await s?.stop();
  });

  async function rendered(body: Record<string, unknown>, key?: string) {
    const job = await createJob(s, body, { key, wait: 20 });
    const done = job.status === 'succeeded' ? job : await waitTerminal(s, job.id, { key });
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    return done;
  }

  function withParam(url: string, name: string, value: string) {
    const u = new URL(url);
    u.searchParams.set(name, value);
    return u.toString();
  }

  it('GET output streams the PDF with content-length and an attachment disposition', async () => {
    const job = await rendered({ deployId, businessKey: 'INV-7', payload: { n: 7 } });
    expect(job.output).toMatchObject({ fileName: 'INV-7.pdf', pdfId: null, expired: false });
    const res = await getOutput(s, job.id);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/pdf/);
    expect(res.headers.get('content-length')).toBe(String(job.output.bytes));
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="INV-7\.pdf"/);
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    expect(res.body.length).toBe(job.output.bytes);
    expect(await pdfText(res.body)).toContain('Probe document');
    // the viewer role may read outputs; nobody else
    const viewer = await s.request('POST', '/v1/api-keys', { json: { name: 'viewer', role: 'viewer' } });
    expect((await getOutput(s, job.id, viewer.body.key)).status).toBe(200);
    const b = await s.newAccount('other');
    const theirs = await s.request('GET', `/v1/render-jobs/${job.id}/output`, { key: b.keys.admin });
    expectError(theirs, 404, 'render_job_not_found');
    expectError(await s.request('GET', `/v1/render-jobs/${job.id}/output`, { key: null }), 401, 'missing_authorization');
  });

  it('file names: a businessKey that is no file name falls back to the job id; non-ASCII names are encoded', async () => {
    const slashed = await rendered({ deployId, businessKey: 'INV/2026/7' });
    expect(slashed.output.fileName).toBe(`${slashed.id}.pdf`);
    const named = await rendered({ deployId, fileName: 'Rechnung Müller "final".pdf' });
    expect(named.output.fileName).toBe('Rechnung Müller "final".pdf');
    const res = await getOutput(s, named.id);
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="Rechnung M_ller _final_.pdf"; filename*=UTF-8''${encodeURIComponent('Rechnung Müller "final".pdf')}`,
    );
  });

  it('download and preview links work without auth until they expire; tampering → 403', async () => {
    const job = await rendered({ deployId, businessKey: 'links' });
    const dl = await s.request('POST', `/v1/render-jobs/${job.id}/output/download`, { json: {} });
    expect(dl.status, dl.text).toBe(200);
    expect(dl.body.access.expiresAt).toBe(Math.floor((s.clock.now() + 600_000) / 1000) * 1000);
    const pv = await s.request('POST', `/v1/render-jobs/${job.id}/output/preview`, { json: { expiresInSeconds: 3600 } });
    expect(pv.status, pv.text).toBe(200);
    expect(pv.body.access.url.startsWith(`${s.url}/v1/signed/`)).toBe(true);

    const a = await fetchBytes(dl.body.access.url, null);
    expect(a.status).toBe(200);
    expect(a.headers.get('content-type')).toMatch(/^application\/pdf/);
    expect(a.headers.get('content-disposition')).toMatch(/^attachment;/);
    expect(a.body.length).toBe(job.output.bytes);
    const p = await fetchBytes(pv.body.access.url, null);
    expect(p.status).toBe(200);
    expect(p.headers.get('content-disposition')).toMatch(/^inline; filename="links\.pdf"/);
    expect(p.body.equals(a.body)).toBe(true);

    // a viewer may create links
    const viewer = await s.request('POST', '/v1/api-keys', { json: { name: 'viewer2', role: 'viewer' } });
    expect((await s.request('POST', `/v1/render-jobs/${job.id}/output/download`, { key: viewer.body.key, json: {} })).status).toBe(200);

    const sig = new URL(dl.body.access.url).searchParams.get('signature')!;
    const flipped = sig.slice(0, -2) + (sig.endsWith('AA') ? 'BB' : 'AA');
    const tampered = [
      withParam(dl.body.access.url, 'signature', flipped),
      withParam(dl.body.access.url, 'disposition', 'inline'),
      withParam(dl.body.access.url, 'expires', String(Number(new URL(dl.body.access.url).searchParams.get('expires')) + 3600)),
      withParam(dl.body.access.url, 'account', (await s.newAccount('mallory')).accountId),
    ];
    for (const url of tampered) {
      const res = await fetch(url);
      const body = await res.json();
      expect({ status: res.status, error: body.error }, url).toEqual({ status: 403, error: 'signed_url_invalid' });
    }
    // another job's id under this signature
    const other = await rendered({ deployId });
    const swapped = dl.body.access.url.replace(job.id, other.id);
    expect((await fetch(swapped)).status).toBe(403);

    s.clock.advance(600_000);
    const expired = await fetch(dl.body.access.url);
    expect(expired.status).toBe(410);
    expect(await expired.json()).toMatchObject({ error: 'signed_url_expired' });
    expect((await fetch(pv.body.access.url)).status).toBe(200); // 1 h link still fine

    expectError(await s.request('POST', `/v1/render-jobs/${job.id}/output/download`, { json: { expiresInSeconds: 0 } }), 400, 'invalid_input');
    // unknown body fields are ignored (spec §9.2)
    expect((await s.request('POST', `/v1/render-jobs/${job.id}/output/download`, { json: { ttl: 5 } })).status).toBe(200);
  });

  it('DELETE output → 204, then 404 render_job_output_not_found (GET, links, signed links)', async () => {
    const job = await rendered({ deployId, businessKey: 'delete-output' });
    const link = (await s.request('POST', `/v1/render-jobs/${job.id}/output/download`, { json: {} })).body.access.url;
    expect((await storedObjects(s, 'outputs')).filter((f) => f.includes(job.id))).toHaveLength(1);
    const viewer = await s.request('POST', '/v1/api-keys', { json: { name: 'viewer3', role: 'viewer' } });
    expectError(await s.request('DELETE', `/v1/render-jobs/${job.id}/output`, { key: viewer.body.key }), 403, 'insufficient_permission');

    const del = await s.request('DELETE', `/v1/render-jobs/${job.id}/output`);
    expect(del.status, del.text).toBe(204);
    expect((await storedObjects(s, 'outputs')).filter((f) => f.includes(job.id))).toEqual([]);
    expectError(await s.request('GET', `/v1/render-jobs/${job.id}/output`), 404, 'render_job_output_not_found');
    expectError(await s.request('POST', `/v1/render-jobs/${job.id}/output/preview`, { json: {} }), 404, 'render_job_output_not_found');
    expectError(await s.request('DELETE', `/v1/render-jobs/${job.id}/output`), 404, 'render_job_output_not_found');
    const signed = await fetch(link);
    expect(signed.status).toBe(404);
    expect((await signed.json()).error).toBe('render_job_output_not_found');
    const view = (await s.request('GET', `/v1/render-jobs/${job.id}`)).body.job;
    expect(view).toMatchObject({ status: 'succeeded', output: null });
  });

  it('DELETE a job: 409 while queued or rendering, 204 once terminal (output removed), then 404', async () => {
    const slow = await createJob(s, { deployId, entry: 'slow.html', payload: { delayMs: 1500 } });
    await waitStatus(s, slow.id, 'rendering');
    expectError(await s.request('DELETE', `/v1/render-jobs/${slow.id}`), 409, 'render_job_not_terminal');
    await s.worker.stop();
    let queued: any;
    try {
      queued = await createJob(s, { deployId });
      expectError(await s.request('DELETE', `/v1/render-jobs/${queued.id}`), 409, 'render_job_not_terminal');
      expect((await s.request('POST', `/v1/render-jobs/${queued.id}/cancel`, { json: {} })).status).toBe(200);
    } finally {
      s.worker.start();
    }
    const done = await waitTerminal(s, slow.id);
    expect(done.status).toBe('succeeded');
    expect((await storedObjects(s, 'outputs')).filter((f) => f.includes(slow.id))).toHaveLength(1);

    for (const id of [slow.id, queued.id]) {
      const del = await s.request('DELETE', `/v1/render-jobs/${id}`);
      expect(del.status, del.text).toBe(204);
      expectError(await s.request('GET', `/v1/render-jobs/${id}`), 404, 'render_job_not_found');
      expectError(await s.request('DELETE', `/v1/render-jobs/${id}`), 404, 'render_job_not_found');
      expectError(await s.request('GET', `/v1/render-jobs/${id}/output`), 404, 'render_job_not_found');
    }
    expect((await storedObjects(s, 'outputs')).filter((f) => f.includes(slow.id))).toEqual([]);
    expectError(await s.request('DELETE', `/v1/render-jobs/${unknownId('rj')}`), 404, 'render_job_not_found');
  });

  it('managed PDFs: listed, fetched, linked, outlive their job, deleted by editors only; usage counts them', async () => {
    const acct = await s.newAccount('managed');
    const k = acct.keys;
    const mine = (await deployDir(s, PROBE_DIR, { slug: 'managed-probe' }, { key: k.editor })).deployId;
    const second = (await deployDir(s, PROBE_DIR, { slug: 'managed-two' }, { key: k.editor })).deployId;
    const usage0 = (await s.request('GET', '/v1/usage', { key: k.viewer })).body;
    const meter = (u: any, code: string) => u.usageMeters.find((m: any) => m.code === code).totalQuantity;
    expect(usage0.liveStorage).toMatchObject({ managedPdfStorageBytes: 0, renderOutputStorageBytes: 0 });

    const managed = await rendered({ deployId: mine, outputMode: 'managed', businessKey: 'contract-1', fileName: 'Contract 1.pdf', payload: { x: 1 } }, k.editor);
    const transient = await rendered({ deployId: mine, businessKey: 'note-1' }, k.editor);
    s.clock.advance(1);
    const managed2 = await rendered({ deployId: second, outputMode: 'managed' }, k.editor);
    expect(managed.outputMode).toBe('managed');
    expect(managed.output).toMatchObject({ fileName: 'Contract 1.pdf', expiresAt: null, expired: false, pdfId: expect.stringMatching(/^pdf_/) });
    const pdfId = managed.output.pdfId;
    expect((await storedObjects(s, 'pdfs')).filter((f) => f.includes(pdfId))).toHaveLength(1);

    const got = await s.request('GET', `/v1/pdfs/${pdfId}`, { key: k.viewer });
    expect(got.status, got.text).toBe(200);
    expect(got.body).toEqual({
      pdf: {
        id: pdfId, state: 'available', fileName: 'Contract 1.pdf', bytes: managed.output.bytes, pageCount: managed.output.pageCount,
        deployId: mine, deployVersionId: managed.deployVersionId, renderJobId: managed.id, businessKey: 'contract-1', createdAt: managed.finishedAt,
      },
    });
    const all = await s.request('GET', '/v1/pdfs', { key: k.viewer });
    expect(all.body.items.map((p: any) => p.id)).toEqual([managed2.output.pdfId, pdfId]);
    expect(all.body.nextCursor).toBeNull();
    const filtered = await s.request('GET', `/v1/pdfs?deployId=${mine}`, { key: k.viewer });
    expect(filtered.body.items.map((p: any) => p.id)).toEqual([pdfId]);
    const paged = await s.request('GET', '/v1/pdfs?limit=1', { key: k.viewer });
    expect(paged.body.items).toHaveLength(1);
    const page2 = await s.request('GET', `/v1/pdfs?limit=1&cursor=${encodeURIComponent(paged.body.nextCursor)}`, { key: k.viewer });
    expect(page2.body.items.map((p: any) => p.id)).toEqual([pdfId]);
    expect((await s.request('GET', '/v1/pdfs')).body.items.map((p: any) => p.id)).not.toContain(pdfId); // other tenant
    expectError(await s.request('GET', `/v1/pdfs/${pdfId}`), 404, 'pdf_not_found');
    expectError(await s.request('GET', '/v1/pdfs?deployId=nope', { key: k.viewer }), 400, 'invalid_query_param');
    expectError(await s.request('GET', '/v1/pdfs?cursor=***', { key: k.viewer }), 400, 'invalid_query_param');
    expectError(await s.request('GET', `/v1/pdfs/${unknownId('pdf')}`, { key: k.viewer }), 404, 'pdf_not_found');

    const content = await fetchBytes(`${s.url}/v1/pdfs/${pdfId}/content`, k.viewer);
    expect(content.status).toBe(200);
    expect(content.headers.get('content-type')).toMatch(/^application\/pdf/);
    expect(content.headers.get('content-length')).toBe(String(managed.output.bytes));
    expect(content.headers.get('content-disposition')).toContain('attachment');
    expect(await pdfText(content.body)).toContain('Probe document');
    const viaJob = await getOutput(s, managed.id, k.viewer);
    expect(viaJob.body.equals(content.body)).toBe(true);

    const dl = await s.request('POST', `/v1/pdfs/${pdfId}/download`, { key: k.viewer, json: {} });
    const pv = await s.request('POST', `/v1/pdfs/${pdfId}/preview`, { key: k.viewer, json: { expiresInSeconds: 120 } });
    expect(dl.status, dl.text).toBe(200);
    expect(pv.body.access.expiresAt).toBe(Math.floor((s.clock.now() + 120_000) / 1000) * 1000);
    const dlRes = await fetchBytes(dl.body.access.url, null);
    expect(dlRes.status).toBe(200);
    expect(dlRes.headers.get('content-disposition')).toMatch(/^attachment; filename="Contract 1\.pdf"/);
    const pvRes = await fetchBytes(pv.body.access.url, null);
    expect(pvRes.headers.get('content-disposition')).toMatch(/^inline;/);
    expect(pvRes.body.equals(content.body)).toBe(true);
    expect((await fetch(withParam(dl.body.access.url, 'signature', 'x'.repeat(43)))).status).toBe(403);

    // usage: live storage by kind, and the meters
    const usage1 = (await s.request('GET', '/v1/usage', { key: k.viewer })).body;
    expect(usage1.liveStorage.managedPdfStorageBytes).toBe(managed.output.bytes + managed2.output.bytes);
    expect(usage1.liveStorage.renderOutputStorageBytes).toBe(transient.output.bytes);
    expect(usage1.liveStorage.totalBytes).toBe(
      usage1.liveStorage.deployVersionStorageBytes + usage1.liveStorage.managedPdfStorageBytes + usage1.liveStorage.renderOutputStorageBytes,
    );
    expect(meter(usage1, 'render_jobs')).toBe(meter(usage0, 'render_jobs') + 3);
    expect(meter(usage1, 'render_time_ms')).toBeGreaterThan(meter(usage0, 'render_time_ms'));

    // deleting the job keeps the managed PDF
    expect((await s.request('DELETE', `/v1/render-jobs/${managed.id}`, { key: k.editor })).status).toBe(204);
    expectError(await s.request('GET', `/v1/render-jobs/${managed.id}`, { key: k.viewer }), 404, 'render_job_not_found');
    expect((await s.request('GET', `/v1/pdfs/${pdfId}`, { key: k.viewer })).body.pdf.renderJobId).toBe(managed.id);
    expect((await fetchBytes(`${s.url}/v1/pdfs/${pdfId}/content`, k.viewer)).status).toBe(200);
    expect((await fetchBytes(dl.body.access.url, null)).status).toBe(200);

    // only editors (and admins) delete managed PDFs
    expectError(await s.request('DELETE', `/v1/pdfs/${pdfId}`, { key: k.viewer }), 403, 'insufficient_permission');
    expectError(await s.request('DELETE', `/v1/pdfs/${pdfId}`), 404, 'pdf_not_found'); // another account
    expect((await s.request('DELETE', `/v1/pdfs/${pdfId}`, { key: k.editor })).status).toBe(204);
    expectError(await s.request('GET', `/v1/pdfs/${pdfId}`, { key: k.viewer }), 404, 'pdf_not_found');
    expectError(await s.request('GET', `/v1/pdfs/${pdfId}/content`, { key: k.viewer }), 404, 'pdf_not_found');
    expectError(await s.request('POST', `/v1/pdfs/${pdfId}/download`, { key: k.viewer, json: {} }), 404, 'pdf_not_found');
    expectError(await s.request('DELETE', `/v1/pdfs/${pdfId}`, { key: k.editor }), 404, 'pdf_not_found');
    const gone = await fetch(dl.body.access.url);
    expect(gone.status).toBe(404);
    expect((await gone.json()).error).toBe('pdf_not_found');
    expect((await storedObjects(s, 'pdfs')).filter((f) => f.includes(pdfId))).toEqual([]);
    expect((await s.request('GET', '/v1/pdfs', { key: k.viewer })).body.items.map((p: any) => p.id)).toEqual([managed2.output.pdfId]);

    // DELETE output of a managed job removes its managed PDF
    expect((await s.request('DELETE', `/v1/render-jobs/${managed2.id}/output`, { key: k.editor })).status).toBe(204);
    expectError(await s.request('GET', `/v1/pdfs/${managed2.output.pdfId}`, { key: k.viewer }), 404, 'pdf_not_found');
    expectError(await s.request('GET', `/v1/render-jobs/${managed2.id}/output`, { key: k.viewer }), 404, 'render_job_output_not_found');

    // deleting the managed PDF itself: the job no longer claims an output
    const managed3 = await rendered({ deployId: mine, outputMode: 'managed', businessKey: 'contract-3' }, k.editor);
    expect((await s.request('DELETE', `/v1/pdfs/${managed3.output.pdfId}`, { key: k.editor })).status).toBe(204);
    expect((await s.request('GET', `/v1/render-jobs/${managed3.id}`, { key: k.viewer })).body.job).toMatchObject({ status: 'succeeded', output: null });
    expectError(await s.request('GET', `/v1/render-jobs/${managed3.id}/output`, { key: k.viewer }), 404, 'render_job_output_not_found');
    expectError(await s.request('POST', `/v1/render-jobs/${managed3.id}/output/download`, { key: k.viewer, json: {} }), 404, 'render_job_output_not_found');
    expectError(await s.request('DELETE', `/v1/render-jobs/${managed3.id}/output`, { key: k.editor }), 404, 'render_job_output_not_found');

    const usage2 = (await s.request('GET', '/v1/usage', { key: k.viewer })).body;
    expect(usage2.liveStorage.managedPdfStorageBytes).toBe(0);
    expect(usage2.liveStorage.renderOutputStorageBytes).toBe(transient.output.bytes);
    expect(meter(usage2, 'render_jobs')).toBe(meter(usage1, 'render_jobs') + 1); // one more job; deleting never refunds usage
  });

  it('a transient output expires after 24 h: 410, the sweep deletes the file, and it stays 410; managed PDFs stay', async () => {
    const job = await rendered({ deployId, businessKey: 'expiring' });
    const managed = await rendered({ deployId, outputMode: 'managed' });
    const link = (await s.request('POST', `/v1/render-jobs/${job.id}/output/download`, { json: { expiresInSeconds: 7 * 24 * 3600 } })).body.access;
    expect(link.expiresAt).toBeLessThanOrEqual(job.output.expiresAt); // never outlives the output
    const file = (await storedObjects(s, 'outputs')).find((f) => f.includes(job.id))!;
    expect(file).toBeTruthy();

    s.clock.advance(DAY - 1);
    expect((await getOutput(s, job.id)).status).toBe(200);
    s.clock.advance(2); // 24 h + 1 ms after the render
    expect(s.clock.now()).toBeGreaterThan(job.output.expiresAt);
    expectError(await s.request('GET', `/v1/render-jobs/${job.id}/output`), 410, 'render_job_output_expired');
    expectError(await s.request('POST', `/v1/render-jobs/${job.id}/output/download`, { json: {} }), 410, 'render_job_output_expired');
    expect((await s.request('GET', `/v1/render-jobs/${job.id}`)).body.job.output).toMatchObject({ expired: true });
    const lapsedLink = await fetch(link.url);
    expect(lapsedLink.status).toBe(410);
    expect((await lapsedLink.json()).error).toBe('signed_url_expired');

    await s.sweep();
    expect(await storedObjects(s, 'outputs')).not.toContain(file);
    expectError(await s.request('GET', `/v1/render-jobs/${job.id}/output`), 410, 'render_job_output_expired');
    expectError(await s.request('POST', `/v1/render-jobs/${job.id}/output/preview`, { json: {} }), 410, 'render_job_output_expired');
    s.clock.advance(DAY);
    await s.sweep();
    expectError(await s.request('GET', `/v1/render-jobs/${job.id}/output`), 410, 'render_job_output_expired');
    expect((await s.request('GET', '/v1/usage')).body.liveStorage.renderOutputStorageBytes).toBe(0);

    // managed PDFs do not expire
    expect((await s.request('GET', `/v1/pdfs/${managed.output.pdfId}`)).status).toBe(200);
    expect((await getOutput(s, managed.id)).status).toBe(200);
    // and the job itself can still be deleted
    expect((await s.request('DELETE', `/v1/render-jobs/${job.id}`)).status).toBe(204);
  });

  it('the sweep deletes outputs and managed-PDF objects no job or PDF records, once an hour old; recorded ones stay', async () => {
    // a server of its own: its clock must still be at the wall clock that stamps stored objects
    const own = await startTestServer();
    try {
      const probe = (await deployDir(own, PROBE_DIR, { slug: 'probe' })).deployId;
      const kept = await createJob(own, { deployId: probe }, { wait: 20 });
      const keptPdf = await createJob(own, { deployId: probe, outputMode: 'managed' }, { wait: 20 });
      expect([kept.status, keptPdf.status]).toEqual(['succeeded', 'succeeded']);
      // what a worker killed between storing a PDF and recording it leaves behind
      const orphans = ['outputs/zz/rj_orphan-1.pdf', 'pdfs/zz/pdf_orphan.pdf'];
      for (const key of orphans) await own.deps.blobs.put(key, Readable.from(Buffer.from('%PDF-1.7 orphan')));
      await own.sweep();
      // younger than the grace period: kept (a render records its output right after storing it)
      for (const key of orphans) expect(await own.deps.blobs.stat(key)).not.toBeNull();

      own.clock.advance(61 * 60_000);
      await own.sweep();
      for (const key of orphans) expect(await own.deps.blobs.stat(key)).toBeNull();
      expect((await getOutput(own, kept.id)).status).toBe(200);
      expect((await own.request('GET', `/v1/pdfs/${keptPdf.output.pdfId}/content`)).status).toBe(200);
    } finally {
      await own.stop();
    }
  });
});
