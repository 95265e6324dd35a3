import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedChromium } from './find-chromium.js';
import { prepareDroppedLaunch, sandboxedArgs } from './sandbox.js';
import type { SandboxPlan } from './sandbox.js';
import { EXTRA_DISABLED_FEATURES, mergeDisabledFeatures, playwrightDisableFeaturesArg } from './launch-features.js';
import { APP_ORIGIN, DATA_ORIGIN, PAGE_RUNTIME_SCRIPT } from './page-runtime.js';
import type { Logger } from '../logger.js';
import { GuardProxy } from './guard-proxy.js';
import type { ContextProxy, ProxiedRequest, ProxyAnswer } from './guard-proxy.js';
import { makeInternalCertificate } from './internal-certificate.js';
import type { InternalCertificate } from './internal-certificate.js';
import { lowerPriority, residentBytes, processStartTime } from './process-memory.js';
import { navigate } from './page-calls.js';
import { openBrowserSession, openPageSession, releaseRenderObjects } from './page-session.js';
import type { BrowserSession, PageSession } from './page-session.js';

/** What a render attaches to the page it leases; the page's listeners, installed once, forward here. */
export interface PageJob {
  /** answer one of the page's requests (every request of its context arrives at the context's proxy) */
  serve(req: ProxiedRequest): Promise<ProxyAnswer>;
  /** the page's renderer process died */
  pageCrashed(): void;
  /** the whole browser went away, or the page closed under the render */
  browserGone(): void;
  console(type: string, text: string, location?: { url: string; lineNumber: number }): void;
  pageError(error: Error): void;
  /** the page broke a per-render bound (PageLimits); its renderer process has been killed */
  resourceLimit(message: string): void;
}

/**
 * Per-render bounds on what a page may make the browser (and this process) hold. Page output reaches Node whether
 * we keep it or not (Playwright receives every console message and keeps the last 200 per page), so a page that
 * floods it is killed rather than read for long; workers and frames are counted as they attach, so a page that
 * spawns hundreds is killed before they all run.
 */
export interface PageLimits {
  /** bytes of console messages (any level) and uncaught-error messages per render */
  maxOutputBytes: number;
  /** dedicated workers started per render */
  maxWorkers: number;
  /** frames attached per render */
  maxFrames: number;
  /** memory (resident, bytes) of the page's renderer process: JavaScript heaps, ArrayBuffers, canvases, images */
  maxMemoryBytes: number;
}

export const DEFAULT_PAGE_LIMITS: PageLimits = {
  maxOutputBytes: 2 * 1024 * 1024,
  maxWorkers: 16,
  maxFrames: 100,
  maxMemoryBytes: 1024 * 1024 * 1024,
};

/**
 * Memory bounds checked between renders, by measured size (resident set of the processes, from /proc): the
 * graceful path. A warm page's renderer grows with the documents it prints (≈ 2 MiB per one-page render, to
 * ≈ 1 GiB after ten 50-page ones), so a page whose renderer passes `pageBytes` after a render is closed (its context
 * and renderer process go with it) and replaced off the critical path; the browser's own processes (browser, GPU,
 * network and utility services) past `browserBytes` make the whole browser recycle. A render in progress is not
 * cut short here; the hard per-render limit for a hostile page is the sandbox's.
 */
export interface MemoryBounds {
  /** resident bytes of one warm page's renderer process after a render */
  pageBytes: number;
  /** resident bytes of the browser's processes other than renderers */
  browserBytes: number;
}

export const DEFAULT_MEMORY_BOUNDS: MemoryBounds = { pageBytes: 512 * 1024 * 1024, browserBytes: 1024 * 1024 * 1024 };

/** What the memory bounds did so far, for status() and the logs. */
export interface MemoryStats {
  /** pages closed because their renderer passed the page bound */
  pagesRecycled: number;
  /** browsers recycled because their own processes passed the browser bound */
  browsersRecycled: number;
  /** browsers recycled after `recycleAfterRenders` renders */
  browsersRecycledByCount: number;
  /** largest renderer measured at the last check of each page, MiB */
  largestPageMiB: number;
  /** the browser's own processes at the last check, MiB */
  browserMiB: number;
}

export interface PoolOptions {
  chromium: () => Promise<ResolvedChromium>;
  /** renders at once; an account never holds more warm pages than this plus one */
  capacity: number;
  /** close and relaunch the browser after this many renders; 0: never (memory bounds recycle instead) */
  recycleAfterRenders: number;
  /** measured memory bounds (see MemoryBounds); 0 turns a bound off */
  memory: MemoryBounds;
  /** warm pages kept without a render; the least recently used beyond it close */
  maxIdlePages: number;
  /** a warm page without renders for this long closes */
  idlePageTtlMs: number;
  /** keep one fresh, never-used page ready for the next account new to the browser */
  sparePage: boolean;
  launchTimeoutMs: number;
  logger: Logger;
  limits: PageLimits;
  /** how Chromium runs: with its sandbox (as an unprivileged user when we are root) or without (decideSandbox) */
  sandbox: SandboxPlan;
  /**
   * the directory this pool owns: Chromium's profile and temporary directories live under it, so a render process
   * killed with -9 leaves nothing elsewhere; emptied when the pool starts and when it closes
   */
  workDir: string;
}

const RESET_TIMEOUT_MS = 5_000;
/**
 * What the next render's first document runs before any of its own scripts, after a reset (see reset()): it clears
 * the top frame's sessionStorage and window.name, which survive about:blank and which nothing clears from outside a
 * document of the origin. Not in frames: an iframe's name is the render's own (and so is its origin's
 * sessionStorage by then). Only in a document opened without a referrer, as the renderer opens a render's entry: the
 * script is removed when that document commits, but Chromium holds CDP messages for the page while a navigation
 * of it is under way, so a navigation the render starts at once (an inline location.replace) can still find it
 * registered, and its document (the referrer is the render's own) must keep what the render wrote. An opaque
 * origin (a sandboxed or error document) has no sessionStorage: it throws.
 */
export const CLEAR_ON_NEW_DOCUMENT =
  'if (window === top && document.referrer === "") { try { sessionStorage.clear(); } catch {} window.name = ""; }';
const CLOSE_TIMEOUT_MS = 5_000;

/**
 * A warm page in a browser context of its own. The context belongs to one account for its whole life (or to
 * nobody yet, while it is the spare); its storage is wiped before the page serves another render.
 */
interface Slot {
  context: BrowserContext;
  /** the context's own listener on the guard proxy, closed with the context */
  proxy: ContextProxy;
  page: Page;
  cdp: PageSession;
  generation: Generation;
  /** null while it is the spare nobody has used yet */
  accountId: string | null;
  job: PageJob | null;
  /** what the current lease's page has used so far (reset per lease) */
  used: { outputBytes: number; workers: number; frames: number };
  crashed: boolean;
  closed: boolean;
  lastUsed: number;
  /** the page's renderer process (pid + start time, so a reused pid isn't mistaken for it); null: not known */
  renderer: { pid: number; started: number } | null;
  renders: number;
  /** the one-shot clear armed by the last reset, until the next render's first document has committed */
  clearing: OneShotClear | null;
}

/**
 * CLEAR_ON_NEW_DOCUMENT as registered on a slot's CDP session: from the end of a reset until the next render's
 * first document has committed (the session's main-frame Page.frameNavigated), when it is removed.
 */
interface OneShotClear {
  /** the first main-frame commit of a lease was seen: the script is being removed */
  committed: boolean;
  commit(): void;
  /** settles once removed after the commit: false if removing failed (the page is then not reused) */
  readonly removed: Promise<boolean>;
}

/** An account's warm pages in one browser. */
interface AccountPages {
  slots: Set<Slot>;
  idle: Slot[];
  /** slots being reset after a render; each resolves once the slot is idle again or discarded */
  resetting: Set<Promise<void>>;
  /** slot being created (or the spare being claimed) for this account; resolves to the failure, if any */
  creating: Promise<Error | null> | null;
  /** renders waiting for a slot */
  waiting: number;
}

/** One launched browser. Replaced after `recycleAfterRenders` or when it disconnects. */
interface Generation {
  browser: Browser;
  accounts: Map<string, AccountPages>;
  spare: Promise<Slot> | null;
  renders: number;
  leased: number;
  draining: boolean;
  dead: boolean;
  /** resolves when the browser stops taking renders (draining or dead), to wake renders waiting for a page */
  gone: Promise<null>;
  markGone: () => void;
  /** browser-level CDP session (process list for the memory bounds), made on first use */
  cdp: Promise<BrowserSession> | null;
  /** last time the browser's own processes were measured (ms) */
  measuredAt: number;
  /** page creations identify their renderer by the process that appears: one at a time per browser */
  pageCreation: Promise<unknown>;
  /** polls the renderer processes' memory while pages are leased (see watchMemory) */
  memoryWatch: NodeJS.Timeout | null;
  /** renderer processes killed for memory whose page crash has not been reported yet */
  memoryKills: Array<{ at: number; message: string }>;
  /** the proxy listeners of its contexts (closed with them, and all of them when the browser goes) */
  proxies: Set<ContextProxy>;
}

/** A page handed to one render. `release` exactly once. */
export interface PageLease {
  readonly page: Page;
  /** a CDP session on the page, for calls cheaper without Playwright's wrapping (page-session.ts) */
  readonly cdp: PageSession;
  /** whether the browser behind the page is still connected */
  browserConnected(): boolean;
  /** whether the page's renderer crashed during the lease */
  pageCrashed(): boolean;
  /**
   * Give the page back: reused after a reset when `reusable`, otherwise closed. `origins` are further origins
   * whose storage the reset must wipe (external sites the render loaded, on plans with external network).
   */
  release(reusable: boolean, origins?: Iterable<string>): void;
}

/**
 * Playwright makes each browser's profile directory under `os.tmpdir()` (TMPDIR) and offers no option for it (a
 * `--user-data-dir` flag is refused): TMPDIR points into the pool's work directory while a launch is under way.
 */
let tmpdirHolds = 0;
let tmpdirBefore: string | undefined;
async function withTmpdir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  if (tmpdirHolds++ === 0) tmpdirBefore = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    return await fn();
  } finally {
    if (--tmpdirHolds === 0) {
      if (tmpdirBefore === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmpdirBefore;
    }
  }
}

/** Per browser binary: Playwright's `--disable-features=` flag and our merged replacement (null: keep it). */
const featureFlagsByBinary = new Map<string, { replace: string; with: string } | null>();

const MEMORY_POLL_MS = 200;
/** How long after a memory kill a page's crash is taken to be that kill. */
const MEMORY_KILL_WINDOW_MS = 5_000;
/**
 * Niceness of a page's renderer process (0 = the browser's). At 10 a runnable renderer thread weighs ≈ 1/10 of a
 * browser-process thread with the kernel's scheduler: a worker bomb's neighbour waited 4.5–6.1 s at 0, 2.0–3.0 s here.
 */
const RENDERER_NICE = 10;

const mib = (bytes: number) => Math.round(bytes / (1024 * 1024));

/** Close a slot's context and its proxy listener. */
async function closeSlot(slot: Slot): Promise<void> {
  await withTimeout(slot.context.close(), CLOSE_TIMEOUT_MS, 'context close').catch(() => undefined);
  await slot.proxy.close();
}

/** SIGKILL for the page's renderer process, if page creation identified it and it is still that process. */
function killRenderer(slot: Slot): void {
  const r = slot.renderer;
  if (!r || processStartTime(r.pid) !== r.started) return;
  try {
    process.kill(r.pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

/**
 * The message of the memory kill behind a page crash just reported, if any. The kill names a process, the crash a
 * page, and nothing maps one to the other; a context's renderer serves only that context's page, so the first
 * page to crash after a kill is the one killed (a page crashing on its own at that moment could be mistaken for it).
 */
function takeMemoryKill(gen: Generation): string | null {
  const now = Date.now();
  gen.memoryKills = gen.memoryKills.filter((k) => now - k.at < MEMORY_KILL_WINDOW_MS);
  return gen.memoryKills.shift()?.message ?? null;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Owns the long-lived browser and its warm pages. Creating a page costs 160–450 ms against ~15 ms for printing
 * one (shared/notes/chromium-performance.md), so pages are reused. Each warm page lives in a browser context of
 * its own, bound to one account for life: accounts never share a context or a page, and even overlapping
 * renders of one account don't share storage. Between renders a page is reset off the critical path (job
 * detached, navigated to about:blank, the internal origins' storage and the context's cookies wiped, stray
 * popups closed); an account that renders back-to-back gets a second warm page so one can reset while the other
 * renders. Replacements for discarded pages are made in the background.
 */
export class BrowserPool {
  private current: Promise<Generation> | null = null;
  private next: Promise<Generation> | null = null;
  private readonly generations = new Set<Generation>();
  private launches = 0;
  private closed = false;
  /** whether /proc can be read (Linux); without it the memory bounds are off */
  private readonly canMeasure = residentBytes(process.pid) !== null;
  readonly memoryStats: MemoryStats = { pagesRecycled: 0, browsersRecycled: 0, browsersRecycledByCount: 0, largestPageMiB: 0, browserMiB: 0 };
  private workDirReady = false;
  private sweeper: NodeJS.Timeout | null = null;
  /** the browser's only route onto the network (see guard-proxy.ts) */
  readonly guard: GuardProxy;
  /** what the guard presents inside the browser's tunnels; its key is pinned at launch */
  private certificate: InternalCertificate | null = null;
  /** last launch failure or crash, for status() */
  lastError: string | null = null;
  version: string | null = null;
  resolved: ResolvedChromium | null = null;

  get sandbox(): SandboxPlan {
    return this.opts.sandbox;
  }

  constructor(private readonly opts: PoolOptions) {
    this.guard = new GuardProxy((target) => opts.logger.debug({ target }, 'network guard refused a browser request'));
  }

  get memoryBoundsMiB(): { pageBoundMiB: number; browserBoundMiB: number } {
    const on = this.canMeasure;
    const mib = (b: number) => (on ? Math.round(b / 1048576) : 0);
    return { pageBoundMiB: mib(this.opts.memory.pageBytes), browserBoundMiB: mib(this.opts.memory.browserBytes) };
  }

  get restarts(): number {
    return Math.max(0, this.launches - 1);
  }

  get ready(): boolean {
    if (this.closed) return false;
    for (const g of this.generations) if (!g.dead && !g.draining) return true;
    return false;
  }

  /** open browser contexts (one per warm page, the spare included), over all live browsers */
  get contextCount(): number {
    let n = 0;
    for (const g of this.generations) {
      if (g.dead) continue;
      if (g.spare) n++;
      for (const a of g.accounts.values()) n += a.slots.size;
    }
    return n;
  }

  /** Launch the browser and wait for the spare page, so the first render finds a warm one. */
  async start(): Promise<void> {
    const gen = await this.generation();
    await gen.spare?.catch(() => undefined);
    if (!this.sweeper && !this.closed) {
      const every = Math.max(5_000, Math.floor(this.opts.idlePageTtlMs / 4));
      this.sweeper = setInterval(() => this.sweepIdle(), every);
      this.sweeper.unref();
    }
  }

  /**
   * Lease a warm page of the account and attach `job` to it: from now on the page's requests and events go to
   * the job, until the lease is released.
   */
  async acquire(accountId: string, job: PageJob): Promise<PageLease> {
    // A browser can be swapped out (recycled, crashed) while we wait for its page: then go again on the next.
    for (let attempt = 1; ; attempt++) {
      const gen = await this.generation();
      let account = gen.accounts.get(accountId);
      if (!account) {
        account = { slots: new Set(), idle: [], resetting: new Set(), creating: null, waiting: 0 };
        gen.accounts.set(accountId, account);
      }
      account.waiting++;
      let slot: Slot;
      try {
        slot = await this.takeSlot(gen, accountId, account);
      } catch (err) {
        if ((gen.dead || gen.draining) && attempt < 3) continue;
        throw err;
      } finally {
        account.waiting--;
      }
      if (gen.dead || gen.draining) {
        this.discard(slot);
        if (attempt < 3) continue;
        throw new Error('browser went away while acquiring a page');
      }
      slot.job = job;
      slot.renders++;
      slot.used = { outputBytes: 0, workers: 0, frames: 0 };
      slot.lastUsed = Date.now();
      gen.leased++;
      gen.renders++;
      if (this.opts.recycleAfterRenders > 0 && gen.renders >= this.opts.recycleAfterRenders) this.recycle(gen, 'renders');
      return this.lease(slot);
    }
  }

  /** Test hook: kill the browser process (CDP Browser.crash), as a real crash would. */
  async crashBrowser(): Promise<void> {
    const gen = this.current ? await this.current : null;
    if (!gen) return;
    const session = await gen.browser.newBrowserCDPSession();
    await session.send('Browser.crash').catch(() => undefined);
  }

  /** Test hook: crash the renderer process of every leased page (CDP Page.crash). */
  async crashLeasedPages(): Promise<void> {
    for (const g of this.generations) {
      for (const a of g.accounts.values()) {
        for (const slot of a.slots) if (slot.job) await slot.cdp.send('Page.crash').catch(() => undefined);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    const pending = [this.current, this.next].filter((p): p is Promise<Generation> => p !== null);
    this.current = null;
    this.next = null;
    await Promise.allSettled(pending);
    await Promise.allSettled([...this.generations].map((g) => this.closeGeneration(g)));
    await this.guard.close();
    if (this.workDirReady) rmSync(this.opts.workDir, { recursive: true, force: true });
  }

  // ---- browsers -------------------------------------------------------------------------------------------

  private async generation(): Promise<Generation> {
    for (;;) {
      if (this.closed) throw new Error('renderer is closed');
      if (!this.current) this.current = this.launch();
      const pending = this.current;
      let gen: Generation;
      try {
        gen = await pending;
      } catch (err) {
        if (this.current === pending) this.current = null;
        throw err;
      }
      if (!gen.dead) return gen;
      if (this.current === pending) this.current = null;
    }
  }

  private async launch(): Promise<Generation> {
    const resolved = (this.resolved ??= await this.opts.chromium());
    const { sandbox, workDir } = this.opts;
    if (!this.workDirReady) {
      // Whatever an earlier process with this directory left (profiles of a browser killed with it) goes now.
      rmSync(workDir, { recursive: true, force: true });
      mkdirSync(join(workDir, 'tmp'), { recursive: true, mode: 0o711 });
      this.workDirReady = true;
    }
    this.certificate ??= makeInternalCertificate();
    const proxied = [
      ...resolved.args,
      `--proxy-server=${await this.guard.start()}`,
      `--ignore-certificate-errors-spki-list=${this.certificate.spkiHash}`,
    ];
    const args = sandbox.enabled ? sandboxedArgs(proxied) : proxied;
    const executablePath = prepareDroppedLaunch(sandbox, resolved.executablePath, workDir);
    let flags = featureFlagsByBinary.get(resolved.executablePath);
    const launch = () =>
      withTmpdir(join(workDir, 'tmp'), () =>
        chromium.launch({
          executablePath,
          args: flags ? [...args, flags.with] : args,
          ignoreDefaultArgs: flags ? [flags.replace] : undefined,
          chromiumSandbox: sandbox.enabled,
          headless: true,
          timeout: this.opts.launchTimeoutMs,
          // The host process decides when to stop; don't let Playwright kill the browser on signals.
          handleSIGINT: false,
          handleSIGTERM: false,
          handleSIGHUP: false,
        }),
      );
    let browser: Browser;
    try {
      browser = await launch();
      if (flags === undefined) {
        // First launch of this binary in the process: learn Playwright's feature flag, then relaunch with ours
        // merged in (see launch-features.ts). Later launches (recycling, crashes) reuse what was learnt.
        const replace = await playwrightDisableFeaturesArg(browser);
        flags = replace ? { replace, with: mergeDisabledFeatures(replace, EXTRA_DISABLED_FEATURES) } : null;
        featureFlagsByBinary.set(resolved.executablePath, flags);
        if (flags) {
          await browser.close();
          browser = await launch();
        }
      }
    } catch (err) {
      this.lastError = `launch failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
      this.opts.logger.error({ executablePath: resolved.executablePath, err: this.lastError }, 'chromium launch failed');
      throw err;
    }
    this.launches++;
    this.version = browser.version();
    this.lastError = null;
    let markGone = () => undefined as void;
    const gone = new Promise<null>((resolve) => {
      markGone = () => resolve(null);
    });
    const gen: Generation = {
      browser,
      accounts: new Map(),
      spare: null,
      renders: 0,
      leased: 0,
      draining: false,
      dead: false,
      gone,
      markGone,
      cdp: null,
      measuredAt: 0,
      pageCreation: Promise.resolve(),
      memoryWatch: null,
      memoryKills: [],
      proxies: new Set(),
    };
    this.generations.add(gen);
    this.watchMemory(gen);
    browser.on('disconnected', () => this.onDisconnected(gen));
    this.opts.logger.info(
      { engine: resolved.engine, executablePath: resolved.executablePath, version: this.version, launch: this.launches },
      'chromium launched',
    );
    if (this.closed) {
      await this.closeGeneration(gen);
      throw new Error('renderer is closed');
    }
    this.refillSpare(gen);
    return gen;
  }

  private onDisconnected(gen: Generation): void {
    const expected = gen.draining || this.closed;
    gen.dead = true;
    if (gen.memoryWatch) clearInterval(gen.memoryWatch);
    gen.markGone();
    this.generations.delete(gen);
    for (const account of gen.accounts.values()) {
      for (const slot of account.slots) {
        slot.closed = true;
        slot.job?.browserGone();
      }
    }
    gen.accounts.clear();
    for (const proxy of gen.proxies) void proxy.close();
    gen.proxies.clear();
    if (expected) return;
    this.lastError = 'browser disconnected';
    this.opts.logger.error({ leased: gen.leased, renders: gen.renders }, 'chromium disconnected; relaunching');
    // Relaunch right away so the next render doesn't pay for it; a failure is retried by the next acquire.
    const relaunch = this.launch();
    relaunch.catch(() => {
      if (this.current === relaunch) this.current = null;
    });
    this.current = relaunch;
  }

  /** Start the next browser in the background; the old one serves until it is up, then drains and closes. */
  private recycle(gen: Generation, reason: 'renders' | 'memory'): void {
    if (gen.draining || this.next || this.closed) return;
    const next = this.launch();
    this.next = next;
    next.then(
      (fresh) => {
        if (this.next !== next) return;
        this.next = null;
        this.current = Promise.resolve(fresh);
        gen.draining = true;
        gen.markGone();
        if (reason === 'memory') this.memoryStats.browsersRecycled++;
        else this.memoryStats.browsersRecycledByCount++;
        this.opts.logger.info({ renders: gen.renders, reason, browserMiB: this.memoryStats.browserMiB }, 'chromium recycled');
        if (gen.leased === 0) void this.closeGeneration(gen);
      },
      () => {
        if (this.next === next) this.next = null;
      },
    );
  }

  private async closeGeneration(gen: Generation): Promise<void> {
    if (gen.memoryWatch) clearInterval(gen.memoryWatch);
    gen.draining = true;
    gen.markGone();
    this.generations.delete(gen);
    await withTimeout(gen.browser.close(), CLOSE_TIMEOUT_MS, 'browser close').catch(() => undefined);
  }

  /**
   * The per-render memory bound beyond the V8 heap (ArrayBuffers, canvases, decoded images live outside it). Each
   * browser context — so each warm page, and each render — has renderer processes of its own, and whatever a page
   * allocates is held by them: while pages are leased, every renderer's resident memory (anonymous and shared, not
   * the mapped binary) is read from /proc every MEMORY_POLL_MS, and a renderer over the bound is killed. Chromium
   * then reports its page crashed, and that render fails with render_resource_limit (not retried). Polling rather
   * than a cgroup or an rlimit: cgroups need a writable, delegated hierarchy (not given in containers, v1 here, v2
   * on CI), and an address-space rlimit kills Chromium outright (V8 reserves terabytes it never touches); a
   * page may overshoot the bound by what it allocates in one interval. Linux only (/proc).
   */
  private watchMemory(gen: Generation): void {
    if (process.platform !== 'linux') return;
    const bound = this.opts.limits.maxMemoryBytes;
    let busy = false;
    gen.memoryWatch = setInterval(() => {
      if (busy || gen.leased === 0 || gen.dead) return;
      busy = true;
      void this.processes(gen)
        .then((list) => {
          for (const { type, id } of list) {
            if (type !== 'renderer') continue;
            const used = residentBytes(id) ?? 0;
            if (used <= bound) continue;
            const message = `the page used more than ${mib(bound)} MiB of memory (its renderer process held ${mib(used)} MiB)`;
            this.opts.logger.warn({ pid: id, bytes: used, bound }, 'renderer over the memory bound; killed');
            // A leased page known to live in that process fails at once; any other's crash is matched to the kill.
            const slot = this.leasedSlotOf(gen, id);
            if (slot?.job) {
              const job = slot.job;
              slot.job = null;
              job.resourceLimit(message);
            } else gen.memoryKills.push({ at: Date.now(), message });
            try {
              process.kill(id, 'SIGKILL');
            } catch {
              if (!slot) gen.memoryKills.pop();
            }
          }
        })
        .catch(() => undefined)
        .finally(() => {
          busy = false;
        });
    }, MEMORY_POLL_MS);
    gen.memoryWatch.unref();
  }

  /** The leased page whose renderer process is `pid` (when page creation identified it). */
  private leasedSlotOf(gen: Generation, pid: number): Slot | null {
    for (const a of gen.accounts.values()) {
      for (const slot of a.slots) if (slot.job && slot.renderer?.pid === pid) return slot;
    }
    return null;
  }

  // ---- warm pages -----------------------------------------------------------------------------------------

  /** A new context with its page, set up for rendering; bounded, since a dying browser can leave calls hanging. */
  private createSlot(gen: Generation, accountId: string | null): Promise<Slot> {
    const creating = this.setUpSlot(gen, accountId);
    return withTimeout(creating, this.opts.launchTimeoutMs, 'page creation').catch((err) => {
      // If it completes after all, don't leak it.
      creating.then((slot) => closeSlot(slot)).catch(() => undefined);
      throw err;
    });
  }

  private async setUpSlot(gen: Generation, accountId: string | null): Promise<Slot> {
    // Every request of the context — pages, frames, workers — goes to a listener of its own on the guard proxy,
    // which hands it to the render holding the page (no request interception: see guard-proxy.ts).
    let current: Slot | null = null;
    const proxy = await this.guard.openContext(this.certificate!, async (req) => {
      if (current?.job) return current.job.serve(req);
      return 'refused';
    });
    gen.proxies.add(proxy);
    void proxy.closed.then(() => gen.proxies.delete(proxy));
    let context: BrowserContext;
    try {
      context = await gen.browser.newContext({ serviceWorkers: 'block', acceptDownloads: false, proxy: { server: proxy.url } });
    } catch (err) {
      await proxy.close();
      throw err;
    }
    try {
      await context.addInitScript({ content: PAGE_RUNTIME_SCRIPT });
      // No routeWebSocket: it exposes a Playwright binding to page script. WebSockets end at the guard proxy.
      const { page, renderer } = await this.newPage(gen, context);
      const cdp = await openPageSession(context, page);
      // Enabled once for the page's life: Page for the one-shot clear (it runs only where Page is enabled, and goes at
      // the commit) and navigation; Network for readiness's request count (network-activity.ts), without body
      // buffering (we never read bodies over CDP).
      await Promise.all([
        cdp.send('Page.enable'),
        cdp.send('Network.enable', { maxTotalBufferSize: 0, maxResourceBufferSize: 0, maxPostDataSize: 0 }),
      ]);
      const slot: Slot = {
        context,
        proxy,
        page,
        cdp,
        generation: gen,
        accountId,
        job: null,
        used: { outputBytes: 0, workers: 0, frames: 0 },
        crashed: false,
        closed: false,
        lastUsed: Date.now(),
        renderer,
        renders: 0,
        clearing: null,
      };
      const limits = this.opts.limits;
      // Over a bound: fail the render and kill its renderer process at once (Page.crash), which stops the page
      // faster than closing it and drops whatever it was still producing.
      const breach = (message: string) => {
        const job = slot.job;
        if (!job) return;
        slot.job = null;
        job.resourceLimit(message);
        void slot.cdp.send('Page.crash').catch(() => undefined);
        // Page.crash is a request the renderer serves itself: one starved by its page (a thousand spinning workers)
        // took seconds, longer in the sandbox. Its process, when known, is killed outright as well.
        killRenderer(slot);
      };
      const output = (bytes: number) => {
        if ((slot.used.outputBytes += bytes) > limits.maxOutputBytes) {
          breach(`the page wrote more than ${limits.maxOutputBytes} bytes of console and error output`);
        }
      };
      // Renders enforce their own deadline; Playwright's 30 s defaults must not cut in first.
      page.setDefaultTimeout(0);
      page.setDefaultNavigationTimeout(0);
      current = slot;
      page.on('crash', () => {
        slot.crashed = true;
        const job = slot.job;
        if (!job) return;
        const killed = takeMemoryKill(gen);
        if (killed === null) return job.pageCrashed();
        slot.job = null;
        job.resourceLimit(killed);
      });
      page.on('console', (msg) => {
        const type = msg.type();
        const text = msg.text();
        output(text.length);
        if (type === 'error' || type === 'warning') slot.job?.console(type, text, msg.location());
      });
      page.on('pageerror', (err) => {
        output(err.message.length + (err.stack?.length ?? 0));
        slot.job?.pageError(err);
      });
      page.on('worker', () => {
        if (++slot.used.workers > limits.maxWorkers) breach(`the page started more than ${limits.maxWorkers} workers`);
      });
      page.on('frameattached', () => {
        if (++slot.used.frames > limits.maxFrames) breach(`the page attached more than ${limits.maxFrames} frames`);
      });
      cdp.on('Page.frameNavigated', ({ frame }: { frame: { parentId?: string; url: string } }) => {
        // The render's first document (or the error page in its place); not the reset's about:blank.
        if (slot.job && frame.parentId === undefined && frame.url !== 'about:blank') slot.clearing?.commit();
      });
      // Only a crash or shutdown closes a leased page (the pool closes pages after release).
      page.on('close', () => slot.job?.browserGone());
      context.on('page', (popup) => {
        if (popup !== page) void popup.close({ runBeforeUnload: false }).catch(() => undefined);
      });
      return slot;
    } catch (err) {
      await context.close().catch(() => undefined);
      await proxy.close();
      throw err;
    }
  }

  private refillSpare(gen: Generation): void {
    if (!this.opts.sparePage || gen.spare || gen.dead || gen.draining || this.closed) return;
    const spare = this.createSlot(gen, null);
    spare.catch((err) => {
      if (gen.spare === spare) gen.spare = null;
      if (!gen.dead) this.opts.logger.warn({ err: String(err) }, 'spare page failed');
    });
    gen.spare = spare;
  }

  /** A slot for the account: idle, or soon idle after its reset, or new (the spare if there is one). */
  private async takeSlot(gen: Generation, accountId: string, account: AccountPages): Promise<Slot> {
    const hadSlots = account.slots.size > 0;
    let waited = false;
    let failures = 0;
    for (;;) {
      if (gen.dead || gen.draining || this.closed) throw new Error('browser went away');
      const slot = account.idle.pop();
      if (slot && (slot.closed || slot.crashed || slot.page.isClosed())) {
        this.discard(slot);
        continue;
      }
      if (slot) {
        // Demand met only by waiting: keep one more warm page for this account, made off the critical path.
        if (waited && hadSlots && account.idle.length === 0) this.grow(gen, accountId, account);
        return slot;
      }
      // Nothing on its way back: a page must be made now, whatever the account already holds.
      if (account.resetting.size === 0 && !account.creating) this.grow(gen, accountId, account, true);
      waited = true;
      // A slot finishing its reset is ~30 ms away; a new one is 160–450 ms away. Take whichever comes first.
      const waits: Array<Promise<Error | null>> = [...account.resetting].map((r) => r.then(() => null));
      if (account.creating) waits.push(account.creating);
      waits.push(gen.gone);
      const failed = await Promise.race(waits);
      if (failed && ++failures >= 2) throw failed;
    }
  }

  /**
   * Add a warm page to the account (claiming the spare if there is one). Unless `needed`, it's a background
   * extra, and an account never holds more than capacity + 1 pages.
   */
  private grow(gen: Generation, accountId: string, account: AccountPages, needed = false): void {
    if (account.creating || (!needed && account.slots.size >= this.opts.capacity + 1)) return;
    const creating = (async () => {
      let slot: Slot | null = null;
      if (gen.spare) {
        const spare = gen.spare;
        gen.spare = null;
        slot = await spare.catch(() => null);
      }
      slot ??= await this.createSlot(gen, accountId);
      slot.accountId = accountId;
      if (gen.dead || gen.draining || gen.accounts.get(accountId) !== account) {
        this.discard(slot);
        return;
      }
      account.slots.add(slot);
      account.idle.push(slot);
      this.refillSpare(gen);
      this.enforceIdleCap();
    })();
    const done = creating.then(
      () => null,
      (err: unknown) => {
        if (!gen.dead) this.opts.logger.warn({ err: String(err) }, 'warm page creation failed');
        return err instanceof Error ? err : new Error(String(err));
      },
    );
    account.creating = done;
    // Registered before any waiter's reaction, so a waiter sees `creating` cleared when it looks again.
    void done.then(() => {
      if (account.creating === done) account.creating = null;
    });
  }

  private lease(slot: Slot): PageLease {
    let released = false;
    const gen = slot.generation;
    return {
      page: slot.page,
      cdp: slot.cdp,
      browserConnected: () => !gen.dead && gen.browser.isConnected(),
      pageCrashed: () => slot.crashed,
      release: (reusable, origins = []) => {
        if (released) return;
        released = true;
        this.release(slot, reusable, [...origins]);
      },
    };
  }

  private release(slot: Slot, reusable: boolean, origins: string[]): void {
    slot.job = null;
    slot.lastUsed = Date.now();
    const gen = slot.generation;
    gen.leased--;
    if (gen.draining && gen.leased === 0) void this.closeGeneration(gen);
    const account = slot.accountId === null ? undefined : gen.accounts.get(slot.accountId);
    if (!account || !reusable || slot.crashed || slot.closed || gen.dead || gen.draining) {
      this.discard(slot);
      return;
    }
    const reset = withTimeout(this.reset(slot, origins), RESET_TIMEOUT_MS, 'page reset').then(
      () => {
        if (slot.closed || slot.crashed) this.discard(slot);
        else if (this.overPageBound(slot)) {
          this.discard(slot);
          // the account keeps a warm page: its replacement is made now, off the critical path
          this.grow(gen, slot.accountId!, account);
        } else {
          account.idle.push(slot);
          this.enforceIdleCap();
        }
        this.checkBrowserMemory(gen);
      },
      (err) => {
        this.opts.logger.debug({ err: String(err) }, 'page reset failed; discarding page');
        this.discard(slot);
      },
    );
    account.resetting.add(reset);
    void reset.finally(() => account.resetting.delete(reset));
  }

  /**
   * Make a used page fit for the account's next render: leave the document for about:blank (stopping its scripts
   * and running its unload handlers, so nothing writes storage after the wipe), then wipe the storage of the
   * internal origins (and of any external origin the render loaded) and all cookies, close popups, drop what
   * Playwright keeps of the render (requests, console arguments, frames), and arm the one-shot clear of
   * sessionStorage and window.name for the next render's first document.
   */
  private async reset(slot: Slot, origins: string[]): Promise<void> {
    // about:blank builds no document of ours (no request, no second app-origin document per render).
    await navigate(slot.cdp, 'about:blank');
    await Promise.all([
      ...[APP_ORIGIN, DATA_ORIGIN, ...origins].map((origin) =>
        slot.cdp.send('Storage.clearDataForOrigin', { origin, storageTypes: 'all' }),
      ),
      // The page's session clears its own context's cookies (its storage partition), no other context's.
      slot.cdp.send('Network.clearBrowserCookies'),
      ...slot.context
        .pages()
        .filter((p) => p !== slot.page)
        .map((p) => p.close({ runBeforeUnload: false }).catch(() => undefined)),
    ]);
    // The render's documents are gone: Playwright would otherwise keep its requests, console messages' arguments
    // and frames for the page's whole life.
    releaseRenderObjects(slot.context, slot.page);
    // sessionStorage (the tab's, per origin) and window.name (the browsing context's) survive about:blank, and no
    // CDP call clears them from outside a document of the origin: the next render's first document clears them
    // before its own scripts run. Still armed and not committed (the lease opened no document): it waits for the
    // next one.
    if (slot.clearing?.committed && !(await slot.clearing.removed)) throw new Error('the one-shot clear could not be removed');
    slot.clearing ??= await this.armClear(slot);
  }

  /** Register CLEAR_ON_NEW_DOCUMENT on the slot's session, to be removed at the next lease's first commit. */
  private async armClear(slot: Slot): Promise<OneShotClear> {
    const { identifier } = await slot.cdp.send<{ identifier: string }>('Page.addScriptToEvaluateOnNewDocument', { source: CLEAR_ON_NEW_DOCUMENT });
    let commit = () => undefined as void;
    const committed = new Promise<void>((resolve) => {
      commit = resolve;
    });
    const clearing: OneShotClear = {
      committed: false,
      commit() {
        clearing.committed = true;
        commit();
      },
      removed: committed
        .then(() => slot.cdp.send('Page.removeScriptToEvaluateOnNewDocument', { identifier }))
        .then(
          () => {
            if (slot.clearing === clearing) slot.clearing = null;
            return true;
          },
          (err: unknown) => {
            this.opts.logger.debug({ err: String(err) }, 'removing the one-shot clear failed');
            return false;
          },
        ),
    };
    return clearing;
  }

  // ---- memory bounds ---------------------------------------------------------------------------------------

  /**
   * `context.newPage()`, learning which renderer process the page got: the renderer that appears in the browser's
   * process list across the call (CDP SystemInfo.getProcessInfo). Creations are serialized for it; a page made
   * while another renderer appeared (a cross-site frame of a render on a plan with external network) stays
   * unidentified, is not measured and closes after its first render.
   */
  private async newPage(gen: Generation, context: BrowserContext): Promise<{ page: Page; renderer: Slot['renderer'] }> {
    if (!this.canMeasure || this.opts.memory.pageBytes <= 0) return { page: await context.newPage(), renderer: null };
    // Per browser, and never stuck behind a creation that hangs (a dying browser can leave calls unanswered).
    const previous = withTimeout(gen.pageCreation, this.opts.launchTimeoutMs, 'page creation').catch(() => undefined);
    const run = previous.then(async () => {
      const before = new Set((await this.processes(gen)).filter((p) => p.type === 'renderer').map((p) => p.id));
      const page = await context.newPage();
      const fresh = (await this.processes(gen).catch(() => [])).filter((p) => p.type === 'renderer' && !before.has(p.id));
      const started = fresh.length === 1 ? processStartTime(fresh[0].id) : null;
      // Page script runs below the browser, GPU and network processes every render shares, and below this
      // service: a page that spins (a worker bomb) slows the renderers beside it, not the whole browser.
      if (started !== null) lowerPriority(fresh[0].id, RENDERER_NICE);
      return { page, renderer: started === null ? null : { pid: fresh[0].id, started } };
    });
    gen.pageCreation = run.catch(() => undefined);
    return run;
  }

  private async processes(gen: Generation): Promise<Array<{ type: string; id: number }>> {
    gen.cdp ??= openBrowserSession(gen.browser);
    const session = await gen.cdp;
    const info = await session.send<{ processInfo: Array<{ type: string; id: number }> }>('SystemInfo.getProcessInfo');
    return info.processInfo;
  }

  /** Whether a page just reset must close for its renderer's size (or because it can't be measured). */
  private overPageBound(slot: Slot): boolean {
    const bound = this.opts.memory.pageBytes;
    if (!this.canMeasure || bound <= 0) return false;
    const r = slot.renderer;
    const rss = r && processStartTime(r.pid) === r.started ? residentBytes(r.pid) : null;
    if (rss === null) {
      // Its renderer is not the one it started with (it navigated cross-site) or never was known: can't be bounded.
      this.opts.logger.info({ renders: slot.renders }, 'warm page closed: its renderer process cannot be measured');
      return true;
    }
    const mib = Math.round(rss / 1048576);
    this.memoryStats.largestPageMiB = Math.max(this.memoryStats.largestPageMiB, mib);
    if (rss <= bound) return false;
    this.memoryStats.pagesRecycled++;
    this.opts.logger.info(
      { rendererMiB: mib, boundMiB: Math.round(bound / 1048576), renders: slot.renders, pid: r!.pid },
      'warm page recycled: renderer memory over bound',
    );
    return true;
  }

  /** At most once a second after a render: the browser's own processes against the browser bound. */
  private checkBrowserMemory(gen: Generation): void {
    const bound = this.opts.memory.browserBytes;
    const now = Date.now();
    if (!this.canMeasure || bound <= 0 || now - gen.measuredAt < 1000 || gen.dead || gen.draining) return;
    gen.measuredAt = now;
    void this.processes(gen).then(
      (list) => {
        let bytes = 0;
        for (const p of list) if (p.type !== 'renderer') bytes += residentBytes(p.id) ?? 0;
        this.memoryStats.browserMiB = Math.round(bytes / 1048576);
        if (bytes > bound && !gen.draining && !gen.dead) {
          this.opts.logger.info({ browserMiB: this.memoryStats.browserMiB, boundMiB: Math.round(bound / 1048576) }, 'browser memory over bound');
          this.recycle(gen, 'memory');
        }
      },
      () => undefined,
    );
  }

  /** Close a slot that can't be reused; an account left without pages gets one back off the critical path. */
  private discard(slot: Slot): void {
    slot.job = null;
    slot.closed = true;
    const gen = slot.generation;
    const account = slot.accountId === null ? undefined : gen.accounts.get(slot.accountId);
    if (account) {
      account.slots.delete(slot);
      const i = account.idle.indexOf(slot);
      if (i >= 0) account.idle.splice(i, 1);
    }
    void closeSlot(slot)
      .then(() => {
        if (!account || gen.dead || gen.draining || this.closed || slot.accountId === null) return;
        if (account.slots.size === 0 && account.waiting === 0 && gen.accounts.get(slot.accountId) === account) {
          // Nobody renders for it right now; drop the bookkeeping, the next render grows it again.
          gen.accounts.delete(slot.accountId);
        }
      });
  }

  /** Close the least recently used idle pages beyond `maxIdlePages` (over all accounts). */
  private enforceIdleCap(): void {
    const idle: Slot[] = [];
    for (const g of this.generations) for (const a of g.accounts.values()) idle.push(...a.idle);
    if (idle.length <= this.opts.maxIdlePages) return;
    idle.sort((a, b) => a.lastUsed - b.lastUsed);
    for (const slot of idle.slice(0, idle.length - this.opts.maxIdlePages)) this.discard(slot);
  }

  private sweepIdle(): void {
    const cutoff = Date.now() - this.opts.idlePageTtlMs;
    for (const g of this.generations) {
      for (const a of g.accounts.values()) for (const s of [...a.idle]) if (s.lastUsed < cutoff) this.discard(s);
    }
  }
}
