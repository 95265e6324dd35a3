/**
 * Where a fresh document's CPU goes, and what the alternatives cost (issue 15 §1–2). Each variant launches its own
 * browser (same binary, the renderer's flags), prints the one-page invoice N times on one warm page (c=1, or c
 * pages with BENCH_C), and reports docs/s, p50 and the CPU of this process and of every Chromium process by type
 * (/proc/<pid>/stat of the launched browser's descendants), per document.
 *
 *   node --conditions=source --import tsx bench/fresh-document.ts [variant …]
 *
 * Variants (all but `setContent` open a fresh document per print):
 * - setContent        write into the current document (no fresh document)
 * - route             page.route + goto(https://doc.test/…), waitUntil load (bench's "raw, fresh doc")
 * - route+runtime     + the page runtime as init script, a Network.enable'd CDP session, RenderDocument off, guard
 *                     proxy flags: what the renderer's page carries, before readiness
 * - route+frames      + two animation frames awaited in the page after load (the §9.1 window's cost)
 * - route+frames-fast the same with --disable-frame-rate-limit --disable-gpu-vsync (frames back to back)
 * - loopback          goto(http://127.0.0.1:port/…) served by a Node HTTP server, no interception
 * - cdp               no Playwright: the browser over --remote-debugging-pipe, Fetch-domain interception,
 *                     Page.navigate + Page.loadEventFired + Page.printToPDF
 * - reset-app         route+runtime plus the pool's reset after each print (a routed empty app-origin document)
 * - reset-blank       the same with about:blank as the resting document
 * - proxied-reset-full proxied plus the pool's whole reset today: goto the app-origin reset document, clear
 *                     sessionStorage + window.name from inside it, Storage.clearDataForOrigin('all'), clearCookies
 * - proxied-page      proxied with the Page domain also enabled on the pool's CDP session (its events for every
 *                     document: what the engine's one-shot clear costs per document, before any reset)
 * - proxied-blank     proxied plus the same reset with about:blank as the resting document (no in-page clear)
 * - proxied-blank-once proxied-blank, and the next print's first document clears sessionStorage + window.name
 *                     before any of its scripts (a one-shot Page.addScriptToEvaluateOnNewDocument, removed after)
 *
 * Before timing, every proxied-* variant probes what survives its reset: the document writes sessionStorage,
 * localStorage and window.name, the variant resets, the next print's document reads them back. The probe also
 * tries the CDP calls that might wipe sessionStorage from outside a document (on about:blank).
 *
 * BENCH_TRACE=1 also records Chromium's trace of 20 more prints per Playwright variant and prints thread CPU per
 * process and per kind of top-level task.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { findChromium } from '../packages/engine/src/chromium/find-chromium.js';
import { PAGE_RUNTIME_SCRIPT } from '../packages/engine/src/chromium/page-runtime.js';
import { makeInternalCertificate } from '../packages/engine/src/chromium/internal-certificate.js';
import tls from 'node:tls';
import type { Socket } from 'node:net';
import { CLEAR_ON_NEW_DOCUMENT } from '../packages/engine/src/chromium/browser-pool.js';
import { onePage } from './documents.js';
import { benchTmpdir, inBenchTmpdir } from './support.js';

const N = Number(process.env.BENCH_N ?? 60);
const C = Number(process.env.BENCH_C ?? 1);
const engine = await findChromium();
/** summed step times of the current variant (ms) */
const steps = { frames: 0, pdf: 0 };
const PDF = { preferCSSPageSize: true, printBackground: true };
const RESET_DOCUMENT = '<!doctype html><meta http-equiv="Content-Security-Policy" content="default-src \'none\'">';
const FAST_FRAMES = ['--disable-frame-rate-limit', '--disable-gpu-vsync'];
const GUARD_FLAGS = ['--proxy-server=http://127.0.0.1:9', '--disable-features=RenderDocument'];

// ---- CPU per process ------------------------------------------------------------------------------------------

interface Proc { pid: number; ppid: number; ticks: number; kind: string }
const CLK = 100;

function procs(): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      const type = /--type=([\w-]+)/.exec(cmd)?.[1];
      const sub = /--utility-sub-type=([\w.]+)/.exec(cmd)?.[1];
      const kind = !type ? (/chrom|headless_shell/i.test(cmd) ? 'browser' : 'other') : type === 'utility' ? (sub?.includes('Network') ? 'network' : 'utility') : type === 'gpu-process' ? 'gpu' : type;
      out.push({ pid: Number(d), ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), kind });
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU ticks of every descendant of this process, by Chromium process kind, plus this process. */
function cpuByKind(): Record<string, number> {
  const all = procs();
  const children = new Map<number, Proc[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const totals: Record<string, number> = {};
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      totals[c.kind] = (totals[c.kind] ?? 0) + c.ticks;
      walk(c.pid);
    }
  };
  walk(process.pid);
  const u = process.cpuUsage();
  totals.node = ((u.user + u.system) / 1e6) * CLK;
  return totals;
}

// ---- variants ---------------------------------------------------------------------------------------------------

interface Driver {
  /** Playwright's browser (for tracing); absent for the raw CDP driver */
  browser?: Browser;
  /** one warm page's print */
  print(i: number, page: number): Promise<void>;
  /** what survives the variant's reset (proxied-* variants) */
  probe?(): Promise<string>;
  close(): Promise<void>;
}

async function playwrightDriver(variant: string): Promise<Driver> {
  const fast = variant === 'route+frames-fast';
  const guarded = variant !== 'route' && variant !== 'setContent' && variant !== 'loopback';
  const proxied = variant.startsWith('proxied');
  const cert = proxied ? makeInternalCertificate() : null;
  const browser: Browser = await inBenchTmpdir(() => chromium.launch({
    executablePath: engine.executablePath,
    args: [...engine.args, ...(fast ? FAST_FRAMES : []), ...(guarded ? GUARD_FLAGS : []), ...(cert ? [`--ignore-certificate-errors-spki-list=${cert.spkiHash}`] : [])],
    ignoreDefaultArgs: guarded ? ['--disable-features'] : undefined,
    headless: true,
  }));
  let server: http.Server | null = null;
  let base = 'https://doc.test';
  if (variant === 'loopback') {
    server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(onePage));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  let proxyUrl: string | undefined;
  if (cert) {
    // the guard proxy serving the internal origins inside TLS tunnels (what the renderer does since issue 15)
    const secureContext = tls.createSecureContext({ cert: cert.cert, key: cert.key });
    const inner = http.createServer((req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(req.url?.endsWith('__reset__') ? RESET_DOCUMENT : onePage));
    server = http.createServer((_req, res) => res.writeHead(403).end());
    server.on('connect', (_req, socket: Socket, head: Buffer) => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) socket.unshift(head);
      inner.emit('connection', new tls.TLSSocket(socket, { isServer: true, secureContext }));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    proxyUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const pages: Page[] = [];
  const cdps: CDPSession[] = [];
  for (let i = 0; i < C; i++) {
    const context = await browser.newContext(proxyUrl ? { proxy: { server: proxyUrl } } : {});
    if (guarded) await context.addInitScript({ content: PAGE_RUNTIME_SCRIPT.replace(/"https:\/\/app\.press\.internal"/, '"https://doc.test"') });
    const page = await context.newPage();
    if (guarded) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable', { maxTotalBufferSize: 0, maxResourceBufferSize: 0, maxPostDataSize: 0 });
      // the one-shot script of proxied-blank-once runs only on a session with the Page domain enabled
      if (variant === 'proxied-blank-once' || variant === 'proxied-page') await cdp.send('Page.enable');
      cdps.push(cdp);
    }
    if (variant !== 'loopback' && variant !== 'setContent' && !proxied) {
      await page.route('**/*', (route) => route.fulfill({ status: 200, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }, body: route.request().url().endsWith('__reset__') ? RESET_DOCUMENT : onePage }));
    }
    pages.push(page);
  }
  const frames = variant.startsWith('route+frames');
  const fullReset = variant === 'proxied-reset-full' || variant.startsWith('proxied-blank');
  /** the one-shot clear of the next document, when this variant has one pending (per page) */
  const once: Array<string | null> = pages.map(() => null);
  const reset = async (p: number) => {
    const page = pages[p];
    const cdp = cdps[p];
    // the pool's reset after each render: to an empty app-origin document (routed), or to about:blank
    if (variant === 'reset-app' || variant === 'proxied-reset' || variant === 'proxied-reset-full') await page.goto('https://doc.test/__reset__');
    if (variant === 'reset-blank' || variant.startsWith('proxied-blank')) await page.goto('about:blank');
    if (!fullReset) return;
    await Promise.all([
      variant === 'proxied-reset-full'
        ? cdp.send('Runtime.evaluate', { expression: 'sessionStorage.clear(); window.name = ""; true', returnByValue: true })
        : null,
      cdp.send('Storage.clearDataForOrigin', { origin: 'https://doc.test', storageTypes: 'all' }),
      page.context().clearCookies(),
    ]);
    if (variant === 'proxied-blank-once') {
      // top frame only: an iframe's window.name is its own (and its sessionStorage.clear() would wipe what the top
      // document already wrote)
      once[p] = (await cdp.send('Page.addScriptToEvaluateOnNewDocument', { source: CLEAR_ON_NEW_DOCUMENT })).identifier;
    }
  };
  const navigate = async (p: number, url: string) => {
    await pages[p].goto(url, { waitUntil: 'load' });
    const id = once[p];
    if (id !== null) {
      once[p] = null;
      await cdps[p].send('Page.removeScriptToEvaluateOnNewDocument', { identifier: id });
    }
  };
  return {
    browser,
    async probe() {
      const page = pages[0];
      const cdp = cdps[0];
      await navigate(0, `${base}/probe-1.html`);
      await page.evaluate('sessionStorage.setItem("k", "session"); localStorage.setItem("k", "local"); window.name = "leak"');
      await reset(0);
      const outside: string[] = [];
      if (variant.startsWith('proxied-blank')) {
        // on about:blank: can sessionStorage be wiped from outside a document of its origin?
        const attempt = async (what: string, call: () => Promise<unknown>) =>
          outside.push(`${what}: ${await call().then(() => 'ok', (err: Error) => `error ${err.message.split('\n')[0]}`)}`);
        await attempt('Storage.clearDataForOrigin(session_storage)', () => cdp.send('Storage.clearDataForOrigin', { origin: 'https://doc.test', storageTypes: 'session_storage' }));
        await attempt('DOMStorage.clear(session)', () => cdp.send('DOMStorage.clear', { storageId: { securityOrigin: 'https://doc.test', isLocalStorage: false } }));
        outside.push(`window.name on about:blank: ${JSON.stringify(await page.evaluate('window.name'))}`);
      }
      await navigate(0, `${base}/probe-2.html`);
      const seen = await page.evaluate('JSON.stringify({ sessionStorage: sessionStorage.getItem("k"), localStorage: localStorage.getItem("k"), windowName: window.name })');
      return [`after the reset: ${seen}`, ...outside].join('; ');
    },
    async print(i, p) {
      const page = pages[p];
      if (variant === 'setContent') await page.setContent(onePage);
      else await navigate(p, `${base}/${i}.html`);
      const t1 = performance.now();
      if (frames) await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
      const t2 = performance.now();
      await page.pdf(PDF);
      steps.frames += t2 - t1;
      steps.pdf += performance.now() - t2;
      await reset(p);
    },
    async close() {
      await browser.close();
      server?.close();
    },
  };
}

/** A minimal CDP client over --remote-debugging-pipe (NUL-separated JSON on fds 3/4). */
async function cdpDriver(): Promise<Driver> {
  const userDataDir = mkdtempSync(join(benchTmpdir(), 'press-bench-cdp-'));
  const proc = spawn(engine.executablePath, [...engine.args, '--headless', '--remote-debugging-pipe', `--user-data-dir=${userDataDir}`, '--no-startup-window', 'about:blank'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
  const write = proc.stdio[3] as NodeJS.WritableStream;
  const read = proc.stdio[4] as NodeJS.ReadableStream;
  let id = 0;
  const pending = new Map<number, (msg: { result?: unknown; error?: unknown }) => void>();
  const listeners = new Set<(msg: { method: string; params: Record<string, unknown>; sessionId?: string }) => void>();
  let buf = '';
  read.on('data', (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    let end: number;
    while ((end = buf.indexOf('\0')) >= 0) {
      const msg = JSON.parse(buf.slice(0, end));
      buf = buf.slice(end + 1);
      if (msg.id !== undefined) pending.get(msg.id)?.(msg), pending.delete(msg.id);
      else for (const l of listeners) l(msg);
    }
  });
  const send = <T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}, sessionId?: string) =>
    new Promise<T>((resolve, reject) => {
      const n = ++id;
      pending.set(n, (m) => (m.error ? reject(new Error(JSON.stringify(m.error))) : resolve(m.result as T)));
      write.write(JSON.stringify({ id: n, method, params, sessionId }) + '\0');
    });
  const sessions: string[] = [];
  for (let i = 0; i < C; i++) {
    const { browserContextId } = await send<{ browserContextId: string }>('Target.createBrowserContext');
    const { targetId } = await send<{ targetId: string }>('Target.createTarget', { url: 'about:blank', browserContextId });
    const { sessionId } = await send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
    await send('Page.enable', {}, sessionId);
    await send('Fetch.enable', { patterns: [{ urlPattern: '*' }] }, sessionId);
    sessions.push(sessionId);
  }
  const body = Buffer.from(onePage).toString('base64');
  listeners.add((m) => {
    if (m.method === 'Fetch.requestPaused') {
      void send('Fetch.fulfillRequest', { requestId: m.params.requestId, responseCode: 200, responseHeaders: [{ name: 'content-type', value: 'text/html; charset=utf-8' }], body }, m.sessionId);
    }
  });
  return {
    async print(i, p) {
      const sessionId = sessions[p];
      const loaded = new Promise<void>((resolve) => {
        const l = (m: { method: string; sessionId?: string }) => {
          if (m.method === 'Page.loadEventFired' && m.sessionId === sessionId) {
            listeners.delete(l);
            resolve();
          }
        };
        listeners.add(l);
      });
      await send('Page.navigate', { url: `https://doc.test/${i}.html` }, sessionId);
      await loaded;
      await send('Page.printToPDF', { preferCSSPageSize: true, printBackground: true }, sessionId);
    },
    async close() {
      await send('Browser.close').catch(() => undefined);
      await new Promise((r) => proc.once('exit', r));
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

async function run(variant: string) {
  const driver = variant === 'cdp' ? await cdpDriver() : await playwrightDriver(variant);
  try {
    if (driver.probe && variant.startsWith('proxied')) probes.set(variant, await driver.probe());
    let i = 0;
    for (let w = 0; w < 3 * C; w++) await driver.print(++i, w % C);
    steps.frames = steps.pdf = 0;
    const before = cpuByKind();
    const lat: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: C }, async (_, p) => {
      while (next < N) {
        next++;
        const t = performance.now();
        await driver.print(++i, p);
        lat.push(performance.now() - t);
      }
    }));
    const wall = performance.now() - t0;
    const after = cpuByKind();
    if (TRACE && driver.browser) {
      // Again, traced: Chromium's own account of the same prints, per process and per task kind.
      await driver.browser.startTracing(undefined, { categories: TRACE_CATEGORIES });
      for (let k = 0; k < TRACE_DOCS; k++) await driver.print(++i, 0);
      traces.set(variant, summarizeTrace(JSON.parse((await driver.browser.stopTracing()).toString('utf8')), TRACE_DOCS));
    }
    lat.sort((a, b) => a - b);
    const cpu: Record<string, number> = {};
    for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
      const d = ((after[k] ?? 0) - (before[k] ?? 0)) / CLK / N * 1000;
      if (d > 0.05) cpu[k] = Math.round(d * 10) / 10;
    }
    const total = Object.values(cpu).reduce((a, b) => a + b, 0);
    return { frames: steps.frames / N, pdf: steps.pdf / N, variant, docsPerSec: (N / wall) * 1000, p50: lat[Math.floor(lat.length / 2)], cpu, total };
  } finally {
    await driver.close();
  }
}

// ---- Chromium tracing ---------------------------------------------------------------------------------------------

const TRACE = process.env.BENCH_TRACE === '1';
const TRACE_DOCS = 20;
const TRACE_CATEGORIES = ['toplevel', 'devtools.timeline', 'blink', 'loading', 'navigation', 'v8', 'ipc', 'mojom', 'netlog', 'net', 'cc', 'gpu', 'viz', 'renderer_host', 'browser', 'content', 'benchmark'];
const traces = new Map<string, Map<string, Map<string, number>>>();

interface TraceEvent { ph: string; name: string; pid: number; tid: number; ts: number; dur?: number; tdur?: number; cat: string; args?: { name?: string } }

/**
 * Thread CPU (tdur, µs) per document: per process kind, the top-level tasks in all, and by the name of the event
 * directly inside each top-level task (what the task was doing).
 */
function summarizeTrace(trace: { traceEvents: TraceEvent[] }, docs: number): Map<string, Map<string, number>> {
  const processName = new Map<number, string>();
  for (const e of trace.traceEvents) if (e.ph === 'M' && e.name === 'process_name') processName.set(e.pid, e.args?.name ?? '?');
  const byThread = new Map<string, TraceEvent[]>();
  for (const e of trace.traceEvents) {
    if (e.ph !== 'X' || e.dur === undefined) continue;
    const k = `${e.pid}:${e.tid}`;
    byThread.set(k, [...(byThread.get(k) ?? []), e]);
  }
  const out = new Map<string, Map<string, number>>();
  const add = (proc: string, what: string, us: number) => {
    const m = out.get(proc) ?? new Map<string, number>();
    m.set(what, (m.get(what) ?? 0) + us / 1000 / docs);
    out.set(proc, m);
  };
  for (const events of byThread.values()) {
    events.sort((a, b) => a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0));
    const proc = processName.get(events[0].pid) ?? '?';
    let top: TraceEvent | null = null;
    let childEnd = -1;
    for (const e of events) {
      const cpu = e.tdur ?? e.dur ?? 0;
      if (!top || e.ts >= top.ts + (top.dur ?? 0)) {
        top = e;
        childEnd = -1;
        add(proc, '(all top-level tasks)', cpu);
        continue;
      }
      // a direct child: starts after the previous direct child ended
      if (e.ts >= childEnd) {
        add(proc, e.name, cpu);
        childEnd = e.ts + (e.dur ?? 0);
      }
    }
  }
  return out;
}

function printTraces() {
  for (const [variant, procsOf] of traces) {
    console.log(`\nChromium trace, ${variant}: thread CPU ms per document (${TRACE_DOCS} documents), top entries per process`);
    for (const [proc, m] of [...procsOf].sort()) {
      const sorted = [...m].sort((a, b) => b[1] - a[1]).slice(0, 9);
      console.log(`- ${proc}: ${sorted.map(([n, v]) => `${n} ${v.toFixed(1)}`).join('; ')}`);
    }
  }
}

const probes = new Map<string, string>();
const all = ['proxied', 'proxied-page', 'proxied-reset', 'proxied-reset-full', 'proxied-blank', 'proxied-blank-once', 'reset-app', 'reset-blank', 'setContent', 'route', 'route+runtime', 'route+frames', 'route+frames-fast', 'loopback', 'cdp'];
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : all;
console.log(`fresh-document — ${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}, ${engine.executablePath}, N=${N}, c=${C}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log('| variant | docs/s | p50 ms | frames ms | pdf ms | CPU ms/doc: node | browser | renderer | gpu | network | total |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const v of chosen) {
  const r = await run(v);
  const c = (k: string) => (r.cpu[k] ?? 0).toFixed(1);
  console.log(`| ${r.variant} | ${r.docsPerSec.toFixed(1)} | ${r.p50.toFixed(0)} | ${r.frames.toFixed(1)} | ${r.pdf.toFixed(1)} | ${c('node')} | ${c('browser')} | ${c('renderer')} | ${c('gpu')} | ${c('network')} | ${r.total.toFixed(1)} |`);
}
for (const [variant, seen] of probes) console.log(`probe ${variant}: ${seen}`);
printTraces();
console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
