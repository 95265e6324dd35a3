import { chromium } from 'playwright-core';
import type { CDPSession, LaunchOptions, Page } from 'playwright-core';
import { GuardProxy } from '../packages/engine/src/chromium/guard-proxy.js';
import { makeInternalCertificate } from '../packages/engine/src/chromium/internal-certificate.js';
import { APP_ORIGIN, INTERNAL_KEY, PAGE_RUNTIME_SCRIPT } from '../packages/engine/src/chromium/page-runtime.js';
import { EXTRA_DISABLED_FEATURES, mergeDisabledFeatures, playwrightDisableFeaturesArg } from '../packages/engine/src/chromium/launch-features.js';
import { inBenchTmpdir } from './support.js';

export interface RawLoopOptions {
  executablePath: string;
  /** launch flags, e.g. `findChromium()`'s `args` so both sides run the same engine the same way */
  args: string[];
  /** the document printed every time */
  html: string;
  /** documents to print in total */
  count: number;
  /** documents printed at once, each on its own warm page */
  concurrency: number;
  /**
   * `setContent` (default): the document is written into the page's current one — the cheapest possible print.
   * `navigate`: each print opens a fresh document (a `goto`, as any renderer that gives every job its own document
   * must), served as the renderer serves it: each page in a context of its own whose proxy is a listener of the
   * guard proxy, TLS terminated there with the pinned certificate. Still no storage, readiness protocol, reset or
   * API around it. `navigate-routed`: the same fresh document served by Playwright request interception
   * (`context.route`), how the renderer served it before issue 15. `navigate-ready`: `navigate`, and printed only once
   * §9.1's readiness rule holds, waited for as the renderer waits: the page runtime (init script) in the document,
   * the navigation awaited to its commit, then the runtime's `conditions()` (load, fonts, no request or pressCloud
   * call in flight) and `settle()` (held across a task turn and two animation frames) over CDP. What it leaves out
   * of the renderer's wait: the CDP Network-domain request count (the invoice makes no request after its document).
   */
  mode?: 'setContent' | 'navigate' | 'navigate-routed' | 'navigate-ready';
  /** called right before the first timed document (after launch and warm-up) */
  onTimedStart?: () => void;
}

export interface RawLoopResult {
  count: number;
  concurrency: number;
  wallMs: number;
  docsPerSecond: number;
  /** per-document time (setContent or goto, + pdf), sorted ascending */
  latenciesMs: number[];
  p50Ms: number;
  p95Ms: number;
  bytes: number;
  /** the browser's version string */
  version: string;
}

/**
 * The baseline the render path is measured against: one browser, `concurrency` pages created up front (warm),
 * each printing `setContent(html)` + `page.pdf()` in a loop, with nothing else around it — no routing, no
 * storage, no readiness protocol, no reset. Page creation is excluded from the timing.
 */
export async function rawLoop(opts: RawLoopOptions): Promise<RawLoopResult> {
  // The renderer's launch exactly (browser-pool.ts): its flags, the guard proxy, and Playwright's feature list with
  // ours merged in (RenderDocument off makes a fresh document ~10–15 ms cheaper, so a loop without it is no floor).
  const guard = new GuardProxy();
  const certificate = makeInternalCertificate();
  const args = [...opts.args, `--proxy-server=${await guard.start()}`, `--ignore-certificate-errors-spki-list=${certificate.spkiHash}`];
  // The headless shell crashed at start once in a benchmark run (SIGSEGV, not reproduced in 60 launches): one retry,
  // said on stderr, so one bad start does not end a run of several minutes. The launch is not timed.
  const launch = async (options: LaunchOptions) => {
    try {
      return await inBenchTmpdir(() => chromium.launch(options));
    } catch (err) {
      process.stderr.write(`raw loop: the browser failed to start, trying once more (${String(err).split('\n')[0]})\n`);
      return inBenchTmpdir(() => chromium.launch(options));
    }
  };
  let browser = await launch({ executablePath: opts.executablePath, args, headless: true });
  const replace = await playwrightDisableFeaturesArg(browser);
  if (replace) {
    await browser.close();
    browser = await launch({
      executablePath: opts.executablePath,
      args: [...args, mergeDisabledFeatures(replace, EXTRA_DISABLED_FEATURES)],
      ignoreDefaultArgs: [replace],
      headless: true,
    });
  }
  try {
    const pages: Page[] = [];
    const ready = opts.mode === 'navigate-ready';
    const navigate = opts.mode === 'navigate' || opts.mode === 'navigate-routed' || ready;
    const sessions = new Map<Page, CDPSession>();
    if (opts.mode === 'navigate' || ready) {
      const headers = { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' };
      for (let i = 0; i < opts.concurrency; i++) {
        const proxy = await guard.openContext(certificate, async () => ({ status: 200, headers, body: opts.html }));
        const context = await browser.newContext({ proxy: { server: proxy.url } });
        if (ready) await context.addInitScript(PAGE_RUNTIME_SCRIPT);
        const page = await context.newPage();
        if (ready) sessions.set(page, await context.newCDPSession(page));
        pages.push(page);
      }
    } else {
      const context = await browser.newContext();
      for (let i = 0; i < opts.concurrency; i++) pages.push(await context.newPage());
      if (navigate) {
        await context.route('https://doc.test/**', (route) =>
          route.fulfill({ status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: opts.html }),
        );
      }
    }
    let n = 0;
    const runtime = `window.${INTERNAL_KEY}`;
    const whenReady = async (page: Page) => {
      await page.goto(`${APP_ORIGIN}/${++n}.html`, { waitUntil: 'commit' });
      // two calls, as the renderer makes them (chromium-renderer.ts, waitReady)
      for (const fn of ['conditions', 'settle']) {
        const r = await sessions.get(page)!.send('Runtime.evaluate', { expression: `${runtime}.${fn}()`, awaitPromise: true });
        if (r.exceptionDetails) throw new Error(`readiness failed: ${r.exceptionDetails.text}`);
      }
    };
    const open = (page: Page) =>
      ready ? whenReady(page) : navigate ? page.goto(`https://doc.test/${++n}.html`, { waitUntil: 'load' }) : page.setContent(opts.html);
    // One untimed print per page: the first one pays for lazy initialisation (fonts, print path).
    await Promise.all(pages.map(async (page) => {
      await open(page);
      await page.pdf({ preferCSSPageSize: true, printBackground: true });
    }));

    const latencies: number[] = [];
    let bytes = 0;
    let next = 0;
    opts.onTimedStart?.();
    const started = performance.now();
    await Promise.all(
      pages.map(async (page) => {
        while (next < opts.count) {
          next++;
          const t = performance.now();
          await open(page);
          const pdf = await page.pdf({ preferCSSPageSize: true, printBackground: true });
          latencies.push(performance.now() - t);
          bytes += pdf.length;
        }
      }),
    );
    const wallMs = performance.now() - started;
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
    return {
      count: latencies.length,
      concurrency: opts.concurrency,
      wallMs,
      docsPerSecond: (latencies.length / wallMs) * 1000,
      latenciesMs: latencies,
      p50Ms: at(0.5),
      p95Ms: at(0.95),
      bytes,
      version: browser.version(),
    };
  } finally {
    await browser.close();
    await guard.close();
  }
}
