import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir } from '../helpers/deploy-dir.js';
import { pdfPagesText } from '../helpers/pdf.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { PROBE_DIR, INVOICE_DIR, createJob, getOutput, waitTerminal } from './support.js';

const SECRET = 'sk_live_invoice_9f3b2c7d1e';
const COMPANY = 'Acme Widgets International';

describe('sample invoice, end to end over HTTP', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('deploys examples/invoice, renders the payload to a multi-page PDF with env, and never leaks the secret', async () => {
    const payload = JSON.parse(readFileSync(join(INVOICE_DIR, 'payload.json'), 'utf8'));
    const { deployId, deployVersionId, files } = await deployDir(s, INVOICE_DIR, { slug: 'invoice', name: 'Invoice' });
    expect(files.map((f) => f.path)).toEqual(expect.arrayContaining(['index.html', 'invoice.js', 'invoice.css', 'fonts/inter-latin-400-normal.woff2']));

    const patched = await s.request('PATCH', `/v1/deploys/${deployId}/settings`, {
      json: { env: { COMPANY_NAME: COMPANY, COMPANY_ADDRESS: '1 Main Street, Springfield' }, secrets: { BILLING_TOKEN: SECRET } },
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.settings.env.COMPANY_NAME).toBe(COMPANY);
    expect(patched.body.settings.secrets).toEqual(['BILLING_TOKEN']);

    const responses: string[] = [patched.text];
    const created = await s.request('POST', '/v1/render-jobs?wait=30', {
      json: { deployId, payload, businessKey: payload.number },
    });
    responses.push(created.text);
    expect(created.status, created.text).toBe(202);
    expect(created.body).toMatchObject({ accepted: true, queue: 'default' });
    let job = created.body.job;
    if (job.status !== 'succeeded') job = await waitTerminal(s, job.id);
    expect(job, JSON.stringify(job)).toMatchObject({
      deployId, deployVersionId, businessKey: payload.number, status: 'succeeded', attempt: 0, outputMode: 'transient', error: null,
    });
    expect(job.output.fileName).toBe(`${payload.number}.pdf`);
    expect(job.output.pdfId).toBeNull();

    const pdf = await getOutput(s, job.id);
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toMatch(/^application\/pdf/);
    expect(pdf.body.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdf.body.length).toBe(job.output.bytes);
    const pages = await pdfPagesText(pdf.body);
    expect(job.output.pageCount).toBeGreaterThanOrEqual(2);
    expect(pages.length).toBe(job.output.pageCount);
    const text = pages.join('\n');
    expect(text).toContain(payload.number);
    expect(text).toContain(COMPANY);
    expect(text).toContain('Discovery workshop');
    expect(text).toContain('Miscellaneous expenses'); // the last line item made it onto a later page
    expect(text).toContain('Globex Corporation');

    for (const path of [
      `/v1/render-jobs/${job.id}`,
      `/v1/render-jobs?deployId=${deployId}`,
      `/v1/render-jobs`,
      `/v1/deploys/${deployId}/settings`,
      `/v1/usage`,
      `/v1/deploys/${deployId}`,
    ]) {
      const res = await s.request('GET', path);
      expect(res.status, `${path}: ${res.text}`).toBe(200);
      responses.push(res.text);
    }
    for (const text of responses) expect(text).not.toContain(SECRET);
  });

  it('env vars and secrets reach the page through pressCloud.env.get / pressCloud.secrets.get', async () => {
    const { deployId } = await deployDir(s, PROBE_DIR, { slug: 'env-probe' });
    const patch = await s.request('PATCH', `/v1/deploys/${deployId}/settings`, {
      json: { env: { GREETING: 'Bonjour-from-env' }, secrets: { API_TOKEN: 'tok-secret-4711' } },
    });
    expect(patch.status, patch.text).toBe(200);
    expect(patch.text).not.toContain('tok-secret-4711');
    const job = await createJob(s, { deployId, entry: 'env.html' }, { wait: 30 });
    const done = job.status === 'succeeded' ? job : await waitTerminal(s, job.id);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    expect(JSON.stringify(done)).not.toContain('tok-secret-4711');
    const text = (await pdfPagesText((await getOutput(s, done.id)).body)).join('\n');
    expect(text).toContain('ENV GREETING=Bonjour-from-env');
    expect(text).toContain('SECRET API_TOKEN=tok-secret-4711');
    expect(text).toContain('MISSING=none');
  });
});
