/**
 * render.job.terminated end to end: real server, real Chromium renders, a real HTTP receiver. One delivery per job,
 * every documented header, a signature a receiver can check, the body shape per outcome, the delivery log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../../src/domain/accounts.js';
import { WebhookSender } from '../../src/workers/webhook-sender.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Receiver, deliveries, expectedSignature, failedJob, hookedDeploy, renderJob } from './support.js';

let s: TestServer;
const receiver = new Receiver();
let accountId: string;
let accountSecret: string;
let viewerKey: string;
let deployA: string; // webhook on, account secret signs
let deployB: string; // webhook on, deploy secret signs
let deploySecret: string;

beforeAll(async () => {
  [s] = await Promise.all([startTestServer(), receiver.start()]);
  // the account's secret is generated at creation; rotating is the only way to read it
  const rotated = await s.request('PATCH', '/v1/account', { json: { webhook: { signingSecretAction: 'rotate' } } });
  expect(rotated.status, rotated.text).toBe(200);
  accountSecret = rotated.body.account.webhook.signingSecret;
  accountId = rotated.body.account.id;
  expect(accountSecret).toMatch(/^whsec_/);
  viewerKey = (await issueApiKey(s.deps, accountId, { name: 'viewer', role: 'viewer' })).key;
  deployA = (await hookedDeploy(s, receiver, '/a')).deployId;
  const b = await hookedDeploy(s, receiver, '/b', { signingSecretAction: 'rotate' });
  deployB = b.deployId;
  deploySecret = b.settings.webhook.signingSecret;
  expect(deploySecret).toMatch(/^whsec_/);
});
afterAll(async () => {
  await s?.stop();
  await receiver.stop();
});

function expectHeaders(r: (typeof receiver.requests)[number], jobId: string, attempt: number) {
  expect(r.method).toBe('POST');
  expect(r.headers['content-type']).toBe('application/json');
  expect(r.headers['user-agent']).toBe('Press-Cloud-Webhooks/1.0');
  expect(r.headers['press-webhook-event']).toBe('render.job.terminated');
  expect(r.headers['press-webhook-id']).toBe(`evt_render_job_terminated_${jobId}`);
  expect(r.headers['press-webhook-delivery']).toMatch(/^whd_[0-9A-Za-z]{20,}$/);
  expect(r.headers['press-webhook-attempt']).toBe(String(attempt));
  const ts = r.headers['press-webhook-timestamp'] as string;
  expect(ts).toMatch(/^\d+$/);
  expect(Math.abs(Number(ts) - Math.floor(s.clock.now() / 1000))).toBeLessThanOrEqual(1); // seconds, not ms
  expect(r.headers['press-webhook-signature']).toMatch(/^v1=[0-9a-f]{64}$/);
}

describe('render.job.terminated', () => {
  it('a succeeded job → exactly one signed POST whose download URL fetches the PDF', async () => {
    const job = await renderJob(s, deployA, { businessKey: 'inv-1' });
    expect(job.status, JSON.stringify(job)).toBe('succeeded');
    await s.webhooks.runOnce();

    const got = receiver.forJob(job.id);
    expect(got).toHaveLength(1);
    const [r] = got;
    expect(r.path).toBe('/a');
    expectHeaders(r, job.id, 1);
    const ts = r.headers['press-webhook-timestamp'] as string;
    expect(r.headers['press-webhook-signature']).toBe(expectedSignature(accountSecret, ts, r.raw));
    expect(r.headers['press-webhook-signature']).not.toBe(expectedSignature(deploySecret, ts, r.raw));

    // body: {id, type, createdAt, data:{job, output}}; data.job is the job as the API shows it
    const current = await s.request('GET', `/v1/render-jobs/${job.id}`);
    expect(Object.keys(r.body).sort()).toEqual(['createdAt', 'data', 'id', 'type']);
    expect(r.body).toMatchObject({ id: `evt_render_job_terminated_${job.id}`, type: 'render.job.terminated', createdAt: expect.any(Number) });
    expect(r.body.data.job).toEqual(current.body.job);
    expect(r.body.data.job).toMatchObject({ id: job.id, status: 'succeeded', businessKey: 'inv-1', error: null });
    const out = r.body.data.output;
    expect(Object.keys(out).sort()).toEqual(['bytes', 'download', 'fileName', 'pageCount']);
    expect(out).toMatchObject({ fileName: 'inv-1.pdf', bytes: job.output.bytes, pageCount: 1 });
    // valid 10 min from the attempt (second precision)
    expect(out.download.expiresAt).toBe(Math.floor((s.clock.now() + 600_000) / 1000) * 1000);
    expect(out.download.url.startsWith(`${s.url}/v1/signed/render-jobs/${job.id}/output?`)).toBe(true);

    const pdf = await fetch(out.download.url); // no API key: the signature is the authorization
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    const bytes = Buffer.from(await pdf.arrayBuffer());
    expect(bytes.subarray(0, 5).toString()).toBe('%PDF-');
    expect(bytes.length).toBe(out.bytes);

    // the delivery log (a viewer may read it) shows the attempt
    const log = await deliveries(s, deployA, viewerKey);
    expect(log).toEqual([{
      id: r.headers['press-webhook-delivery'], eventId: `evt_render_job_terminated_${job.id}`, renderJobId: job.id,
      url: `${receiver.url}/a`, attempt: 1, status: 'succeeded', responseStatus: 200, error: null,
      createdAt: expect.any(Number), deliveredAt: expect.any(Number), nextAttemptAt: null, durationMs: expect.any(Number), redeliveryOf: null,
    }]);

    // nothing more is sent, however often the sender runs
    await s.webhooks.runOnce();
    await s.sweep();
    expect(receiver.forJob(job.id)).toHaveLength(1);
    expect((await s.deps.db.renderJobs.getById(job.id))!.webhookPending).toBe(false);
  });

  it('a deploy signing secret signs instead of the account secret; managed output links the PDF', async () => {
    // a sender with a capturing logger: nothing secret may reach the logs
    const lines: string[] = [];
    const capture = (level: string) => (obj: object, msg?: string) => lines.push(`${level} ${msg} ${JSON.stringify(obj)}`);
    const logger = { debug: capture('debug'), info: capture('info'), warn: capture('warn'), error: capture('error') };
    await s.webhooks.stop();
    try {
      const job = await renderJob(s, deployB, { outputMode: 'managed', fileName: 'report.pdf' });
      expect(job.status).toBe('succeeded');
      await new WebhookSender(s.deps, { logger }).runOnce();
      const got = receiver.forJob(job.id);
      expect(got).toHaveLength(1);
      const [r] = got;
      expect(r.path).toBe('/b');
      expectHeaders(r, job.id, 1);
      const ts = r.headers['press-webhook-timestamp'] as string;
      expect(r.headers['press-webhook-signature']).toBe(expectedSignature(deploySecret, ts, r.raw));
      expect(r.headers['press-webhook-signature']).not.toBe(expectedSignature(accountSecret, ts, r.raw));
      expect(r.body.data.job.output.pdfId).toMatch(/^pdf_/);
      expect(r.body.data.output).toMatchObject({ fileName: 'report.pdf', pageCount: 1 });
      expect(r.body.data.output.download.url.startsWith(`${s.url}/v1/signed/pdfs/${r.body.data.job.output.pdfId}?`)).toBe(true);
      const pdf = await fetch(r.body.data.output.download.url);
      expect(pdf.status).toBe(200);
      expect(pdf.headers.get('content-type')).toBe('application/pdf');

      const logged = lines.join('\n');
      expect(logged).toMatch(/webhook delivered/);
      for (const secret of [deploySecret, accountSecret, r.headers['press-webhook-signature'] as string, 'signature=', '/v1/signed/']) {
        expect(logged).not.toContain(secret);
      }
    } finally {
      s.webhooks.start();
    }
  });

  it('a failed job → webhook with the error and no output', async () => {
    const job = await failedJob(s, deployA);
    await s.webhooks.runOnce();
    const got = receiver.forJob(job.id);
    expect(got).toHaveLength(1);
    const [r] = got;
    expectHeaders(r, job.id, 1);
    expect(r.headers['press-webhook-signature']).toBe(expectedSignature(accountSecret, r.headers['press-webhook-timestamp'] as string, r.raw));
    expect(r.body.data).not.toHaveProperty('output');
    expect(r.body.data.job).toMatchObject({
      id: job.id, status: 'failed', output: null,
      error: { code: 'render_entry_not_found', message: expect.any(String) },
    });
  });

  it('a canceled job → webhook, no output', async () => {
    const created = await s.request('POST', '/v1/render-jobs', { json: { deployId: deployA, entry: 'slow.html' } });
    expect(created.status, created.text).toBe(202);
    const jobId = created.body.job.id;
    const canceled = await s.request('POST', `/v1/render-jobs/${jobId}/cancel`, { json: {} });
    expect(canceled.status, canceled.text).toBe(200);
    expect(canceled.body.job.status).toBe('canceled');
    await s.webhooks.runOnce();
    const got = receiver.forJob(jobId);
    expect(got).toHaveLength(1);
    expectHeaders(got[0], jobId, 1);
    expect(got[0].body.data).not.toHaveProperty('output');
    expect(got[0].body.data.job).toMatchObject({ id: jobId, status: 'canceled', output: null });
  });

  it('a deploy without a webhook → no delivery, and the pending flag is cleared', async () => {
    const { deployId } = await hookedDeploy(s, null, null);
    const job = await failedJob(s, deployId);
    await s.webhooks.runOnce();
    expect(receiver.forJob(job.id)).toHaveLength(0);
    expect((await s.deps.db.renderJobs.getById(job.id))!.webhookPending).toBe(false);
    expect(await deliveries(s, deployId)).toEqual([]);

    // enabling the webhook later does not resurrect events of jobs that already ended
    const on = await s.request('PATCH', `/v1/deploys/${deployId}/settings`, { json: { webhook: { enabled: true, url: `${receiver.url}/late` } } });
    expect(on.status).toBe(200);
    await s.webhooks.runOnce();
    expect(receiver.on('/late')).toHaveLength(0);
  });
});

describe('GET /v1/deploys/{deployId}/webhook-deliveries', () => {
  it('pages newest first with opaque cursors', async () => {
    const all = await s.request('GET', `/v1/deploys/${deployA}/webhook-deliveries`);
    expect(all.status).toBe(200);
    expect(all.body.items.length).toBeGreaterThanOrEqual(3);
    expect(all.body.nextCursor).toBeNull();
    const order = all.body.items.map((i: any) => [i.createdAt, i.id]);
    expect(order).toEqual([...order].sort((a, b) => b[0] - a[0] || (b[1] < a[1] ? -1 : b[1] > a[1] ? 1 : 0)));

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await s.request('GET', `/v1/deploys/${deployA}/webhook-deliveries?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { key: viewerKey });
      expect(page.status).toBe(200);
      expect(page.body.items).toHaveLength(1);
      seen.push(page.body.items[0].id);
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.body.items.map((i: any) => i.id));

    const bad = await s.request('GET', `/v1/deploys/${deployA}/webhook-deliveries?cursor=nope`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_query_param');
    const badLimit = await s.request('GET', `/v1/deploys/${deployA}/webhook-deliveries?limit=0`);
    expect(badLimit.status).toBe(400);
  });

  it('another account\'s deploy (or an unknown one) is 404 deploy_not_found', async () => {
    const other = await s.newAccount(`other-${Date.now()}`);
    const res = await s.request('GET', `/v1/deploys/${deployA}/webhook-deliveries`, { key: other.keys.admin });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'deploy_not_found', message: expect.any(String) });
    const unknown = await s.request('GET', '/v1/deploys/dpl_0000000000AAAAAAAAAAAAAAAA/webhook-deliveries');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('deploy_not_found');
    const anon = await s.request('GET', `/v1/deploys/${deployA}/webhook-deliveries`, { key: null });
    expect(anon.status).toBe(401);
  });

  it('no secret appears in any response but the rotate response', async () => {
    const texts = [
      (await s.request('GET', `/v1/deploys/${deployA}/webhook-deliveries`)).text,
      (await s.request('GET', `/v1/deploys/${deployB}/webhook-deliveries`)).text,
      (await s.request('GET', `/v1/deploys/${deployB}/settings`)).text,
      (await s.request('GET', '/v1/account')).text,
    ];
    for (const t of texts) {
      expect(t).not.toContain(accountSecret);
      expect(t).not.toContain(deploySecret);
      expect(t).not.toContain('signature');
    }
  });
});
