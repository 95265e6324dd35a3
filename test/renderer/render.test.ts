import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rawLoop } from '../../bench/raw-playwright.js';
import { findChromium } from '../../packages/engine/src/chromium/find-chromium.js';
import type { RenderFiles } from '../../packages/engine/src/renderer.js';
import {
  fixtureFiles,
  jsonPayload,
  memoryLogger,
  pdfPagesText,
  pdfText,
  renderError,
  renderRequest,
  useRenderer,
} from './support.js';

const logger = memoryLogger();
const renderer = useRenderer({ capacity: 2, logger });

describe('ChromiumRenderer', () => {
  it('reports the engine it runs', () => {
    const status = renderer().status();
    expect(status.ready).toBe(true);
    expect(status.engine).toBe('chrome-headless-shell');
    expect(status.executablePath).toBeTruthy();
    expect(status.version).toMatch(/^\d+\./);
    expect(renderer().capacity).toBe(2);
  });

  it('gives the page a JSON payload, env and secrets before its scripts run', async () => {
    const result = await renderer().render(
      renderRequest('payload-json', {
        payload: jsonPayload({ invoice: 'INV-42', customer: { name: 'Ada Lovelace' } }),
        env: { REGION: 'eu-west', PLAN: 'pro' },
        secrets: { API_TOKEN: 'sk_live_abcdef123456' },
      }),
    );
    const text = await pdfText(result.pdf);
    expect(text).toContain('Invoice INV-42 for Ada Lovelace');
    expect(text).toContain('region=eu-west missing=undefined');
    expect(text).toContain('token=sk_live_abcdef123456');
    expect(text).toContain('envKeys=PLAN,REGION secretKeys=API_TOKEN');
    expect(result.pageCount).toBe(1);
    expect(result.bytes).toBe(result.pdf.length);
    expect(result.pdf.subarray(0, 5).toString()).toBe('%PDF-');
    // Secrets and payloads never reach the log, not even when the page prints them to its console.
    const logged = JSON.stringify(logger.entries);
    expect(logged).toContain('configured with token [redacted]');
    expect(logged).not.toContain('sk_live_abcdef123456');
    expect(logged).not.toContain('Ada Lovelace');
  });

  it('gives the page a binary payload as an ArrayBuffer', async () => {
    const body = Buffer.from([0xca, 0xfe, 0xba, 0xbe, 1, 2, 3, 4, 5, 6]);
    const result = await renderer().render(
      renderRequest('payload-binary', { payload: { body, mime: 'application/octet-stream' } }),
    );
    expect(await pdfText(result.pdf)).toContain('kind=ArrayBuffer length=10 head=cafebabe');
  });

  it('counts the pages of a multi-page CSS @page document', async () => {
    const result = await renderer().render(renderRequest('multipage'));
    expect(result.pageCount).toBe(3);
    const pages = await pdfPagesText(result.pdf);
    expect(pages).toEqual(['Page one', 'Page two', 'Page three']);
  });

  it('serves a web font with its mime and waits for it', async () => {
    const files = fixtureFiles('webfont');
    const result = await renderer().render(renderRequest('webfont', { files }));
    expect(await pdfText(result.pdf)).toContain('font=loaded');
    expect(files.served).toContainEqual({ path: 'open-sans-700.woff2', mime: 'font/woff2' });
    expect(files.served).toContainEqual({ path: 'css/style.css', mime: 'text/css; charset=utf-8' });
  });

  it('percent-decodes paths (entry and assets with spaces, in folders)', async () => {
    const files = fixtureFiles('nested');
    const result = await renderer().render(renderRequest('nested', { files, entry: 'docs/my report.html' }));
    expect(await pdfText(result.pdf)).toContain('Nested report with stylesheet');
    expect(files.requested).toContain('shared/report style.css');
  });

  it('follows a client-side redirect within the version', async () => {
    const result = await renderer().render(renderRequest('redirect'));
    const text = await pdfText(result.pdf);
    expect(text).toContain('after redirect');
    expect(text).not.toContain('before redirect');
  });

  it('waits for pressCloud.ready() on data-press-wait="manual" pages', async () => {
    const result = await renderer().render(renderRequest('manual-ready'));
    expect(await pdfText(result.pdf)).toContain('manually ready');
    expect(result.timings.readyMs).toBeGreaterThanOrEqual(300);
  });

  it('waits for data-press-ready="true" on manual pages', async () => {
    const result = await renderer().render(renderRequest('manual-ready', { entry: 'attribute.html' }));
    expect(await pdfText(result.pdf)).toContain('ready by attribute');
  });

  it('fails with render_timeout when the page never becomes ready', async () => {
    const started = Date.now();
    const err = await renderError(renderer().render(renderRequest('never-ready', { timeoutMs: 1500 })));
    const elapsed = Date.now() - started;
    expect(err.code).toBe('render_timeout');
    expect(err.retryable).toBe(false);
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(2500);
  });

  it('times out a page whose script spins forever, and the account keeps rendering', async () => {
    const started = Date.now();
    const err = await renderError(renderer().render(renderRequest('busy-loop', { timeoutMs: 1500 })));
    expect(err.code).toBe('render_timeout');
    expect(Date.now() - started).toBeLessThan(2500);
    const result = await renderer().render(renderRequest('simple'));
    expect(result.pageCount).toBe(1);
  });

  it('fails with render_entry_not_found before opening a page', async () => {
    const err = await renderError(renderer().render(renderRequest('simple', { entry: 'missing.html' })));
    expect(err.code).toBe('render_entry_not_found');
    expect(err.retryable).toBe(false);
  });

  it('fails with render_navigation_failed when the entry answers 404 at navigation', async () => {
    const real = fixtureFiles('simple');
    let calls = 0;
    // The version lists the entry when asked first, then loses it: the navigation itself gets a 404.
    const files: RenderFiles = {
      get: async (path) => (path === 'index.html' && ++calls > 1 ? null : real.get(path)),
      open: (file) => real.open(file),
    };
    const err = await renderError(renderer().render(renderRequest('simple', { files })));
    expect(err.code).toBe('render_navigation_failed');
    expect(err.retryable).toBe(false);
  });

  it('fails retryably when storage cannot produce a file', async () => {
    const real = fixtureFiles('simple');
    const files: RenderFiles = {
      get: (path) => real.get(path),
      open: async (file) => {
        if (file.path === 'invoice.css') throw new Error('disk on fire');
        return real.open(file);
      },
    };
    const err = await renderError(renderer().render(renderRequest('simple', { files })));
    expect(err.code).toBe('render_internal_error');
    expect(err.retryable).toBe(true);
  });

  it('fails with render_output_too_large over maxOutputBytes', async () => {
    const err = await renderError(renderer().render(renderRequest('simple', { maxOutputBytes: 1000 })));
    expect(err.code).toBe('render_output_too_large');
    expect(err.retryable).toBe(false);
  });

  it('stops quickly with render_canceled when the signal aborts', async () => {
    const controller = new AbortController();
    const pending = renderer().render(renderRequest('never-ready', { timeoutMs: 10_000, signal: controller.signal }));
    setTimeout(() => controller.abort(), 300);
    const started = Date.now();
    const err = await renderError(pending);
    expect(err.code).toBe('render_canceled');
    expect(Date.now() - started).toBeLessThan(1500);
    // An already-aborted signal doesn't even start.
    const err2 = await renderError(renderer().render(renderRequest('simple', { signal: AbortSignal.abort() })));
    expect(err2.code).toBe('render_canceled');
    // The account renders normally afterwards.
    expect((await renderer().render(renderRequest('simple'))).pageCount).toBe(1);
  });

  it('waits for a slot beyond capacity, and a cancel while waiting leaves the queue', async () => {
    const stop = new AbortController();
    const busy = [1, 2].map(() =>
      renderError(renderer().render(renderRequest('never-ready', { timeoutMs: 10_000, signal: stop.signal }))),
    );
    await new Promise((r) => setTimeout(r, 100));
    const waiting = new AbortController();
    const queued = renderError(renderer().render(renderRequest('simple', { signal: waiting.signal })));
    await new Promise((r) => setTimeout(r, 50));
    expect(renderer().status()).toMatchObject({ active: 2, queued: 1 });
    waiting.abort();
    expect((await queued).code).toBe('render_canceled');
    expect(renderer().status().queued).toBe(0);
    stop.abort();
    for (const err of await Promise.all(busy)) expect(err.code).toBe('render_canceled');
  });

  // Every kind of storage a page can write: localStorage, sessionStorage, window.name, cookies, IndexedDB, the
  // Cache API, OPFS and service worker registrations.
  const storageRender = async (accountId: string, writer: string, files = fixtureFiles('storage')) => {
    const result = await renderer().render(renderRequest('storage', { accountId, files, payload: jsonPayload({ writer }) }));
    return pdfText(result.pdf);
  };

  it('never shares any kind of storage across accounts, and wipes all of it between renders', async () => {
    expect(await storageRender('acct_a', 'A1')).toContain('seen=none writer=A1');
    expect(await storageRender('acct_b', 'B1')).toContain('seen=none writer=B1');
    // A's next render doesn't see what its previous one left either (storage is wiped between renders), not even
    // when it renders another deploy's version (same origin, same account): window.name and sessionStorage included.
    expect(await storageRender('acct_a', 'A2')).toContain('seen=none writer=A2');
    expect(await storageRender('acct_a', 'A3', fixtureFiles('storage'))).toContain('seen=none writer=A3');
    expect(renderer().status().contexts).toBeGreaterThanOrEqual(2);
    // Wiped, not replaced: a page whose reset fails is discarded, which would hide a leak.
    expect(logger.entries.filter((e) => e.msg?.includes('reset failed'))).toEqual([]);
  });

  // sessionStorage and window.name survive the reset's about:blank; the next render's first document clears them
  // (a one-shot script, gone once that document has committed). Two renders of a fresh account in a row: the
  // second waits for the first one's page to be reset and gets it.
  const resetClearRender = async (accountId: string, entry: string) =>
    pdfText((await renderer().render(renderRequest('reset-clear', { accountId, entry }))).pdf);

  it("keeps a render's own sessionStorage and window.name across a navigation it makes during load", async () => {
    expect(await resetClearRender('acct_nav', 'index.html')).toContain('seen=none session=kept name=kept');
    // On the reset page: the first document starts clean, the one it navigates to keeps what it wrote.
    expect(await resetClearRender('acct_nav', 'index.html')).toContain('seen=none session=kept name=kept');
  });

  it("clears the top frame's window.name between renders, and leaves named iframes their names", async () => {
    const frames = 'frames=child-frame,quiet-frame,blank-frame,srcdoc-frame';
    expect(await resetClearRender('acct_name', 'framed.html')).toContain(`top=none ${frames}`);
    expect(await resetClearRender('acct_name', 'framed.html')).toContain(`top=none ${frames}`);
  });

  it('runs renders concurrently, up to capacity, none seeing the storage of another', async () => {
    const accounts = ['acct_c1', 'acct_c2', 'acct_c1', 'acct_c2', 'acct_c1', 'acct_c1'];
    const texts = await Promise.all(accounts.map((accountId, i) => storageRender(accountId, `W${i}`)));
    for (const [i, text] of texts.entries()) expect(text).toContain(`seen=none writer=W${i}`);
    expect(renderer().status().active).toBe(0);
  });

  it('renders warm one-page documents fast', async () => {
    const req = () => renderRequest('simple', { accountId: 'acct_speed' });
    for (let i = 0; i < 3; i++) await renderer().render(req());
    const times: number[] = [];
    const steps = { acquirePageMs: 0, navigateMs: 0, readyMs: 0, pdfMs: 0, inspectMs: 0 };
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const result = await renderer().render(req());
      times.push(performance.now() - started);
      for (const k of Object.keys(steps) as Array<keyof typeof steps>) steps[k] += result.timings[k] / 20;
      expect(result.pageCount).toBe(1);
    }
    const avg = times.reduce((a, b) => a + b, 0) / times.length;
    const sorted = [...times].sort((a, b) => a - b);

    // The same document through bare setContent + pdf on a warm page, measured now on the same machine.
    const status = renderer().status();
    const html = readFileSync(new URL('../fixtures/apps/simple/index.html', import.meta.url), 'utf8').replace(
      '<link rel="stylesheet" href="invoice.css">',
      `<style>${readFileSync(new URL('../fixtures/apps/simple/invoice.css', import.meta.url), 'utf8')}</style>`,
    );
    const { args } = await findChromium();
    const raw = await rawLoop({ executablePath: status.executablePath!, args, html, count: 20, concurrency: 1 });

    console.log(
      `warm render: avg ${avg.toFixed(1)} ms, p50 ${sorted[10].toFixed(1)} ms, max ${sorted[19].toFixed(1)} ms; ` +
        `steps avg ${Object.entries(steps)
          .map(([k, v]) => `${k}=${v.toFixed(1)}`)
          .join(' ')}; raw setContent+pdf p50 ${raw.p50Ms.toFixed(1)} ms`,
    );
    // Well under 150 ms on a quiet machine; the bound only catches a regression to page-per-render (and
    // stretches with the baseline when the machine is oversubscribed, so the test can't flake on noise).
    expect(avg).toBeLessThan(Math.max(400, 8 * raw.p50Ms));
  });
});
