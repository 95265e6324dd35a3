import os from 'node:os';
import type { Page } from 'playwright-core';
import type { PageSession } from './page-session.js';
import { printPdfOptions, RenderError } from '../renderer.js';
import type { Renderer, RendererStatus, RenderRequest, RenderResult, RenderTimings } from '../renderer.js';
import { BrowserPool } from './browser-pool.js';
import { DEFAULT_MEMORY_BOUNDS, DEFAULT_PAGE_LIMITS } from './browser-pool.js';
import type { MemoryBounds, PageLease, PageLimits } from './browser-pool.js';
import { findChromium } from './find-chromium.js';
import { join } from 'node:path';
import { decideSandbox, sandboxState } from './sandbox.js';
import type { SandboxMode, SandboxState } from './sandbox.js';
import type { ResolvedChromium } from './find-chromium.js';
import { silentLogger } from '../logger.js';
import type { Logger } from '../logger.js';
import { NetworkActivity } from './network-activity.js';
import { OutboundRefusedError } from '../outbound/port.js';
import type { Outbound } from '../outbound/port.js';
import { APP_ORIGIN, INTERNAL_KEY } from './page-runtime.js';
import type { PageWaitState } from './page-runtime.js';
import { diagnosticUrl } from './diagnostics.js';
import { countPdfPages } from './pdf-info.js';
import { appUrl, RenderSession } from './render-session.js';
import { navigate, printPdf } from './page-calls.js';

export interface ChromiumRendererOptions {
  /** renders at once; default `os.availableParallelism()` */
  capacity?: number;
  /** skip engine discovery and use this binary and these flags */
  chromium?: ResolvedChromium;
  /** environment for engine discovery (PRESS_CHROMIUM_PATH, PATH); default process.env */
  env?: NodeJS.ProcessEnv;
  /** relaunch the browser after this many renders; default 0: never (the memory bounds recycle instead) */
  recycleAfterRenders?: number;
  /** recycle a warm page / the browser past these measured sizes (see MemoryBounds); default DEFAULT_MEMORY_BOUNDS */
  memory?: Partial<MemoryBounds>;
  /** warm pages (each in its own context, bound to one account) kept without a render; LRU beyond; default 8 */
  maxIdlePages?: number;
  /** close a warm page after this long without renders; default 5 min */
  idlePageTtlMs?: number;
  /** keep a fresh, unbound page ready for an account new to the browser; default true */
  sparePage?: boolean;
  /** browser launch bound; default 30 s */
  launchTimeoutMs?: number;
  /** largest response body an allowed external request may return; default 32 MiB */
  maxExternalResponseBytes?: number;
  /**
   * where pages' external requests go on plans with external network (one address policy, DNS pinned; the server
   * passes the one its webhooks use); without it they are refused
   */
  outbound?: Outbound;
  /** per-render bounds (console output, workers, frames); default DEFAULT_PAGE_LIMITS */
  limits?: Partial<PageLimits>;
  /** pino-like logger; page console output is logged at debug with secrets masked */
  logger?: Logger;
  /**
   * Chromium's sandbox: `auto` (default) turns it on wherever it can run — as `user` (default `nobody`) when this
   * process is root; `off` never (docs/security-model.md, "Chromium's sandbox")
   */
  sandbox?: { mode?: SandboxMode; user?: string };
  /**
   * directory the renderer owns for Chromium's profiles and temporary files, emptied at start and on close; default
   * a new one under the system temp directory
   */
  workDir?: string;
}

let renderers = 0;

/** Refuses every request: a renderer built without an Outbound keeps pages off the internet whatever the plan. */
const noOutbound: Outbound = {
  check: async () => ({ allowed: false, kind: 'address', reason: 'no outbound requests configured' }),
  request: async () => {
    throw new OutboundRefusedError('address', 'no outbound requests configured');
  },
};

/** Grace for Playwright's "target closed" rejection to be explained by a crash/disconnect event. */
const CRASH_EVENT_GRACE_MS = 100;
/** How often `waitReady` goes round when the page keeps navigating itself (client-side redirects). */
const MAX_DOCUMENTS = 5;
/** How long a timed-out page gets to say what it was waiting for (a spinning script never answers). */
const DESCRIBE_TIMEOUT_MS = 250;

const now = () => performance.now();
const ms = (from: number, to: number) => Math.round((to - from) * 10) / 10;

/**
 * The Renderer port on Chromium via playwright-core: one long-lived browser, warm pages per account (see
 * BrowserPool), the version served from storage by the context's listener on the guard proxy (see RenderSession).
 */
export class ChromiumRenderer implements Renderer {
  readonly capacity: number;
  private readonly pool: BrowserPool;
  private readonly logger: Logger;
  private readonly outbound: Outbound;
  private readonly maxExternalResponseBytes: number;
  private active = 0;
  private readonly queue: Array<{ grant: () => void }> = [];
  private closed = false;
  private starting: Promise<void> | null = null;

  constructor(opts: ChromiumRendererOptions = {}) {
    this.capacity = Math.max(1, Math.floor(opts.capacity ?? os.availableParallelism()));
    this.logger = opts.logger ?? silentLogger;
    this.outbound = opts.outbound ?? noOutbound;
    this.maxExternalResponseBytes = opts.maxExternalResponseBytes ?? 32 * 1024 * 1024;
    const resolved = opts.chromium;
    const env = opts.env;
    this.pool = new BrowserPool({
      chromium: async () => resolved ?? findChromium({ env }),
      capacity: this.capacity,
      recycleAfterRenders: opts.recycleAfterRenders ?? 0,
      memory: { ...DEFAULT_MEMORY_BOUNDS, ...opts.memory },
      maxIdlePages: opts.maxIdlePages ?? 8,
      idlePageTtlMs: opts.idlePageTtlMs ?? 5 * 60_000,
      sparePage: opts.sparePage ?? true,
      launchTimeoutMs: opts.launchTimeoutMs ?? 30_000,
      logger: this.logger,
      limits: { ...DEFAULT_PAGE_LIMITS, ...opts.limits },
      sandbox: decideSandbox(opts.sandbox?.mode, opts.sandbox?.user),
      workDir: opts.workDir ?? join(os.tmpdir(), `press-chromium-${process.pid}-${++renderers}`),
    });
  }

  /** how Chromium runs (sandbox on or off, as whom, why) */
  get sandbox(): SandboxState {
    return sandboxState(this.pool.sandbox);
  }

  start(): Promise<void> {
    if (this.closed) return Promise.reject(new RenderError('render_internal_error', 'renderer is closed', true));
    this.starting ??= this.pool.start().catch((err) => {
      this.starting = null;
      throw new RenderError('render_internal_error', `renderer failed to start: ${errText(err)}`, true, {
        cause: err,
      });
    });
    return this.starting;
  }

  status(): RendererStatus {
    const r = this.pool.resolved;
    return {
      engine: r?.engine ?? 'chromium',
      executablePath: r?.executablePath ?? null,
      version: this.pool.version,
      ready: this.pool.ready,
      restarts: this.pool.restarts,
      active: this.active,
      queued: this.queue.length,
      contexts: this.pool.contextCount,
      error: this.pool.ready ? null : this.pool.lastError,
      networkGuard: { proxy: this.pool.guard.proxyUrl, refused: this.pool.guard.refused },
      memory: { ...this.pool.memoryStats, ...this.pool.memoryBoundsMiB },
      sandbox: this.sandbox,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.queue.splice(0)) waiter.grant();
    await this.pool.close();
  }

  /** Test hook: crash the browser (`'browser'`) or the renderer process of every page mid-render (`'pages'`). */
  async crashForTest(kind: 'browser' | 'pages'): Promise<void> {
    if (kind === 'browser') await this.pool.crashBrowser();
    else await this.pool.crashLeasedPages();
  }

  async render(req: RenderRequest): Promise<RenderResult> {
    const t0 = now();
    if (req.signal?.aborted) throw canceled();
    if (this.closed) throw new RenderError('render_internal_error', 'renderer is closed', true);
    await this.slot(req.signal);
    try {
      // Launching the engine (first render, or after a failed start) is not on the document's clock.
      await raceSignal(this.start(), req.signal);
      return await this.renderInSlot(req, t0, now());
    } finally {
      this.active--;
      this.queue.shift()?.grant();
    }
  }

  /** Wait for one of `capacity` render slots; a cancel while waiting leaves the queue. */
  private slot(signal: AbortSignal | undefined): Promise<void> {
    if (this.active < this.capacity && this.queue.length === 0) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          if (this.closed) return reject(new RenderError('render_internal_error', 'renderer is closed', true));
          this.active++;
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        reject(canceled());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private async renderInSlot(req: RenderRequest, t0: number, tSlot: number): Promise<RenderResult> {
    const session = new RenderSession(req, {
      outbound: this.outbound,
      maxExternalResponseBytes: this.maxExternalResponseBytes,
      logger: this.logger,
    });
    let lease: PageLease | null = null;
    let network: NetworkActivity | null = null;
    let stage: 'page' | 'open' | 'ready' | 'print' = 'page';
    const timer = setTimeout(() => {
      const limit = `render did not finish within ${req.timeoutMs} ms`;
      const why =
        stage === 'ready' && lease && network
          ? describeWait(lease.cdp, network)
          : Promise.resolve(stage === 'open' ? 'while opening the entry' : stage === 'print' ? 'while printing' : '');
      void why.then((waiting) => {
        const last = session.diagnostics.lastPageError();
        const error = last ? `; last page error: ${last.message}${last.source ? ` (${last.source}:${last.line})` : ''}` : '';
        session.fail(new RenderError('render_timeout', `${limit}${waiting ? ` ${waiting}` : ''}${error}`));
      });
    }, req.timeoutMs);
    const onCancel = () => session.fail(canceled());
    req.signal?.addEventListener('abort', onCancel, { once: true });

    let reusable = false;
    const timings: RenderTimings = {
      queueMs: ms(t0, tSlot),
      acquirePageMs: 0,
      navigateMs: 0,
      readyMs: 0,
      pdfMs: 0,
      inspectMs: 0,
      totalMs: 0,
    };
    try {
      // Checked before a page is taken: a missing entry is the document's fault and costs no browser work.
      const entry = await guard(session, req.files.get(req.entry)).catch((err) => {
        throw err instanceof RenderError ? err : new RenderError('render_internal_error', 'storage error', true);
      });
      if (!entry) throw new RenderError('render_entry_not_found', `entry ${req.entry} is not in the deploy version`);

      const tAcquire = now();
      lease = await this.acquire(session, req.accountId);
      network = NetworkActivity.watch(lease.cdp);
      stage = 'open';
      const tNav = now();
      timings.acquirePageMs = ms(tAcquire, tNav);

      const { status } = await guard(session, navigate(lease.cdp, appUrl(req.entry))).catch((err) => {
        throw err instanceof RenderError ? err : new DocumentFailure('opening the entry failed', err);
      });
      if (status === null || status >= 400) {
        throw new RenderError('render_navigation_failed', `opening ${req.entry} answered ${status ?? 'nothing'}`);
      }
      const tReady = now();
      timings.navigateMs = ms(tNav, tReady);

      stage = 'ready';
      await this.waitReady(lease, session, network);
      stage = 'print';
      const tPdf = now();
      timings.readyMs = ms(tReady, tPdf);

      const pdf = await guard(session, printPdf(lease.cdp, printPdfOptions(req.pdfOptions)));
      const tInspect = now();
      timings.pdfMs = ms(tPdf, tInspect);
      if (req.maxOutputBytes !== null && pdf.length > req.maxOutputBytes) {
        reusable = true;
        throw new RenderError(
          'render_output_too_large',
          `the PDF has ${pdf.length} bytes, over the limit of ${req.maxOutputBytes}`,
        );
      }
      reusable = true;
      // The page's work is done: hand it back before parsing so its reset overlaps with the parse.
      lease.release(true, session.externalOrigins);
      lease = null;
      const pageCount = await guard(session, countPdfPages(pdf)).catch((err) => {
        throw err instanceof RenderError ? err : new RenderError('render_internal_error', 'unreadable PDF', true);
      });
      const tEnd = now();
      timings.inspectMs = ms(tInspect, tEnd);
      timings.totalMs = ms(t0, tEnd);
      return { pdf, bytes: pdf.length, pageCount, timings, diagnostics: session.diagnostics.snapshot() };
    } catch (err) {
      const error = await this.explain(err, session, lease);
      error.diagnostics = session.diagnostics.snapshot();
      throw error;
    } finally {
      clearTimeout(timer);
      network?.stop();
      req.signal?.removeEventListener('abort', onCancel);
      session.finish();
      // After a timeout, cancel or crash the page's state is unknown (a script may still be spinning): discard.
      lease?.release(reusable, session.externalOrigins);
    }
  }

  /** A page for the account. Its bound is the render's, but running out of time here is not the document's doing. */
  private async acquire(session: RenderSession, accountId: string): Promise<PageLease> {
    for (let attempt = 1; ; attempt++) {
      const pending = this.pool.acquire(accountId, session);
      try {
        return await guard(session, pending);
      } catch (err) {
        // Too late: give a page that arrives after all straight back.
        pending.then((l) => l.release(true)).catch(() => undefined);
        if (err instanceof RenderError) {
          if (err.code === 'render_timeout') {
            throw new RenderError('render_internal_error', 'no browser page became available in time', true);
          }
          throw err;
        }
        // The browser died between launch and lease: one more try on the next browser.
        if (attempt >= 2 || this.closed) {
          throw new RenderError('render_internal_error', `browser not available: ${errText(err)}`, true, {
            cause: err,
          });
        }
      }
    }
  }

  /**
   * Spec §9.1 readiness: print once `load` fired, fonts are ready, no request of any kind is in flight and no
   * pressCloud call is pending (in manual mode, also pressCloud.ready() / data-press-ready), and all that held
   * across a task turn and two animation frames. Two halves: the page (page-runtime.ts) knows its own fetch/XHR
   * calls, response bodies being read and pressCloud calls, and holds the window; Chromium's network events
   * (NetworkActivity) see every request of the document, whatever started it, and must not move during the
   * window; requests still being answered here (RenderSession, workers included) must be none.
   */
  private async waitReady({ page, cdp }: PageLease, session: RenderSession, network: NetworkActivity): Promise<void> {
    for (let documents = 0; ; ) {
      try {
        // Straight over CDP: page.evaluate() wraps every call in Playwright's ~14 KB utility script.
        await this.pageCall(page, cdp, session, 'conditions');
        for (;;) {
          await guard(session, Promise.all([network.whenIdle(), session.whenIdle()]));
          const seen = network.changes;
          await this.pageCall(page, cdp, session, 'settle');
          if (network.changes === seen && network.idle && session.pending === 0) break;
        }
      } catch (err) {
        if (err instanceof RenderError) throw err;
        // The document navigated (client-side redirect) while we waited: look at the new one.
        if (++documents < MAX_DOCUMENTS && onAppOrigin(page) && /context was destroyed|navigat|no document/i.test(errText(err))) {
          continue;
        }
        throw new DocumentFailure('the document did not load', err);
      }
      if (!onAppOrigin(page)) throw navigatedAway(page, session);
      return;
    }
  }

  /** Calls the page runtime's `fn` in the main document; a document without it (navigated away) fails clearly. */
  private async pageCall(page: Page, cdp: PageSession, session: RenderSession, fn: 'conditions' | 'settle'): Promise<void> {
    const found = await guard(
      session,
      evaluateMainWorld<boolean>(cdp, `(k => k ? k.${fn}().then(() => true) : false)(window.${INTERNAL_KEY})`),
    );
    if (found) return;
    if (!onAppOrigin(page)) throw navigatedAway(page, session);
    // An app-origin document without the runtime: it is being replaced right now.
    throw new Error('no document to wait for yet');
  }

  /** Turns whatever ended a render into the RenderError it means. */
  private async explain(err: unknown, session: RenderSession, lease: PageLease | null): Promise<RenderError> {
    if (err instanceof RenderError) return err;
    // A Playwright error ("target closed", "navigation failed") can arrive just before the crash, disconnect
    // or timeout that explains it; those take precedence over blaming the document.
    await new Promise((r) => setTimeout(r, CRASH_EVENT_GRACE_MS));
    if (session.signal.aborted) return session.signal.reason as RenderError;
    if (lease?.pageCrashed()) return new RenderError('render_page_crashed', 'the page crashed while rendering', true);
    if (this.closed) return new RenderError('render_internal_error', 'the renderer closed while rendering', true);
    if (lease && !lease.browserConnected()) {
      return new RenderError('render_internal_error', 'the browser crashed while rendering', true);
    }
    if (err instanceof DocumentFailure) {
      return new RenderError('render_navigation_failed', `${err.message}: ${errText(err.cause)}`, false, {
        cause: err.cause,
      });
    }
    this.logger.warn({ err: errText(err) }, 'unexpected render failure');
    return new RenderError('render_internal_error', `render failed: ${errText(err)}`, true, { cause: err });
  }
}

/** A Playwright failure that, unless a crash or timeout explains it, is the document's (navigation) problem. */
class DocumentFailure extends Error {
  constructor(
    message: string,
    readonly cause: unknown,
  ) {
    super(message);
  }
}

/** Races `promise` against the render's end (timeout, cancel, crash); a loser's rejection is swallowed. */
function guard<T>(session: RenderSession, promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  const signal = session.signal;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** `promise`, or `render_canceled` as soon as `signal` aborts. */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  promise.catch(() => undefined);
  if (signal.aborted) return Promise.reject(canceled());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(canceled());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Evaluates `expression` in the main frame's document (awaiting a promise); a thrown exception rejects. */
async function evaluateMainWorld<T>(cdp: PageSession, expression: string): Promise<T> {
  const res = await cdp.send<{
    result: { value?: unknown };
    exceptionDetails?: { text: string; exception?: { description?: string } };
  }>('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
  if (res.exceptionDetails) {
    throw new Error(res.exceptionDetails.exception?.description ?? res.exceptionDetails.text);
  }
  return res.result.value as T;
}

/** What the page (and Chromium) still waited for when the render timed out, e.g. `waiting for pressCloud.ready()`. */
async function describeWait(cdp: PageSession, network: NetworkActivity): Promise<string> {
  const reasons: string[] = [];
  const state = await Promise.race([
    evaluateMainWorld<PageWaitState | null>(cdp, `(k => k ? k.state() : null)(window.${INTERNAL_KEY})`).catch(() => null),
    new Promise<'busy'>((r) => setTimeout(() => r('busy'), DESCRIBE_TIMEOUT_MS).unref()),
  ]);
  if (state === 'busy') reasons.push(`the page's script, which did not yield for ${DESCRIBE_TIMEOUT_MS} ms`);
  else if (state) {
    if (state.manual && !state.signalled) reasons.push('pressCloud.ready() (the page has data-press-wait="manual")');
    if (!state.loaded) reasons.push('the load event');
    if (state.pressCloudCalls > 0) reasons.push(`${state.pressCloudCalls} pressCloud call(s)`);
    if (state.fonts !== 'loaded') reasons.push('fonts (document.fonts.ready)');
    for (const src of state.images) reasons.push(`an image (${diagnosticUrl(src)})`);
  }
  const { urls, count } = network.pending(3);
  for (const url of urls) reasons.push(`a request to ${diagnosticUrl(url)}`);
  if (count > urls.length) reasons.push(`${count - urls.length} more request(s)`);
  if (state !== 'busy' && state && state.requests > 0 && count === 0) reasons.push(`${state.requests} fetch/XHR response(s) being read`);
  if (reasons.length === 0) return 'while waiting for the page to stay idle (it kept starting requests or changing state)';
  return `while waiting for ${reasons.join(', ')}`;
}

function navigatedAway(page: Page, session: RenderSession): RenderError {
  // A refused navigation leaves Chromium's error page in place of the document: name where the page wanted to go.
  const to = session.blockedNavigation ? `${session.blockedNavigation}, refused` : diagnosticUrl(page.url());
  return new RenderError('render_navigation_failed', `the page navigated away from the deploy version (to ${to}) before it was ready`);
}

function onAppOrigin(page: Page): boolean {
  return page.url().startsWith(`${APP_ORIGIN}/`);
}

function canceled(): RenderError {
  return new RenderError('render_canceled', 'the render was canceled', false);
}

function errText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  // Playwright appends browser logs and call logs; the first line is the message.
  return text.split('\n')[0];
}
