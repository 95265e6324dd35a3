/**
 * Spec §9.1 through the API: what went wrong inside the page is stored with the job and shown by GET, by the list
 * and in the render.job.terminated webhook — for a job that succeeded and for one that timed out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployFiles } from '../helpers/uploads.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Receiver, uniqueSlug } from '../webhooks/support.js';
import { createJob, waitTerminal } from './support.js';

const FILES = [
  {
    path: 'index.html',
    content: `<!doctype html><html><head><meta charset="utf-8"></head><body><p id="out">loading</p>
<script>
  (async () => {
    const data = await pressCloud.payload();
    console.warn('no logo configured');
    await fetch('logo.png');
    document.getElementById('out').textContent = 'Invoice ' + data.n;
    setTimeout(() => data.customer.name, 0);
  })();
</script></body></html>`,
  },
  {
    path: 'manual.html',
    content: `<!doctype html><html data-press-wait="manual"><head><meta charset="utf-8"></head><body>
<script>
  pressCloud.payload().then((data) => { document.body.textContent = data.customer.name; pressCloud.ready(); });
</script></body></html>`,
  },
];

const EXPECTED_ERROR = {
  message: "TypeError: Cannot read properties of undefined (reading 'name')",
  source: 'https://app.press.internal/index.html',
  line: 8,
};

let s: TestServer;
const receiver = new Receiver();
let deployId: string;

beforeAll(async () => {
  [s] = await Promise.all([startTestServer({ PRESS_RENDER_TIMEOUT_MS: '2000' }), receiver.start()]);
  deployId = (await deployFiles(s, { createDeploy: { slug: uniqueSlug('diag'), name: 'diagnostics' } }, FILES)).deployId;
  const res = await s.request('PATCH', `/v1/deploys/${deployId}/settings`, { json: { webhook: { enabled: true, url: `${receiver.url}/hook` } } });
  expect(res.status, res.text).toBe(200);
});
afterAll(async () => {
  await s?.stop();
  await receiver.stop();
});

describe('job diagnostics', () => {
  it('a job that renders despite page problems carries them: GET, list and webhook', async () => {
    const created = await createJob(s, { deployId, payload: { n: 42 } });
    expect(created).not.toHaveProperty('diagnostics.pageErrors');
    const job = await waitTerminal(s, created.id);
    expect(job.status).toBe('succeeded');
    expect(job.diagnostics).toEqual({
      pageErrors: [{ ...EXPECTED_ERROR, line: 8 }],
      console: expect.arrayContaining([
        { level: 'warning', text: 'no logo configured', source: 'https://app.press.internal/index.html', line: 5 },
      ]),
      blockedRequests: [],
      failedRequests: [{ url: 'https://app.press.internal/logo.png', status: 404, error: null }],
      omitted: 0,
    });
    const list = await s.request('GET', `/v1/render-jobs?deployId=${deployId}`);
    expect(list.body.items.find((j: { id: string }) => j.id === job.id).diagnostics).toEqual(job.diagnostics);

    await s.webhooks.runOnce();
    const [hook] = receiver.forJob(job.id);
    expect(hook.body.data.job.diagnostics).toEqual(job.diagnostics);
  });

  it('a manual page that throws before pressCloud.ready() times out with the error in the message and diagnostics', async () => {
    const job = await waitTerminal(s, (await createJob(s, { deployId, entry: 'manual.html', payload: { n: 1 } })).id);
    expect(job.status).toBe('failed');
    expect(job.error.code).toBe('render_timeout');
    expect(job.error.message).toMatch(/while waiting for pressCloud\.ready\(\).*last page error: TypeError: Cannot read properties of undefined \(reading 'name'\)/);
    expect(job.diagnostics.pageErrors).toEqual([{ ...EXPECTED_ERROR, source: 'https://app.press.internal/manual.html', line: 3 }]);
    await s.webhooks.runOnce();
    expect(receiver.forJob(job.id)[0].body.data.job).toMatchObject({ error: job.error, diagnostics: job.diagnostics });
  });

  it('a job that failed before a page opened has empty diagnostics', async () => {
    const job = await waitTerminal(s, (await createJob(s, { deployId, entry: 'missing.html' })).id);
    expect(job.error.code).toBe('render_entry_not_found');
    expect(job.diagnostics).toEqual({ pageErrors: [], console: [], blockedRequests: [], failedRequests: [], omitted: 0 });
  });
});
