/** What the benchmarks share: Press Cloud started as users start it and driven over HTTP, and /proc sampling. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** the repository's root */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** CPU seconds used by the whole machine (all processes: node, Chromium, kernel) from /proc/stat. */
export function machineCpuSeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq] = line;
  return (user + nice + system + irq + softirq) / 100; // USER_HZ = 100
}

/** Resident KiB of one process, or null if it is gone. */
export function rssKiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Every process on the machine with its command line (processes that end while listing are left out). */
export function processes(): Array<{ pid: number; ppid: number; cmd: string }> {
  const out: Array<{ pid: number; ppid: number; cmd: string }> = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.push({ pid: Number(d), ppid, cmd });
    } catch {
      // ended while listing
    }
  }
  return out;
}

/** The pids below `root` (children, grandchildren, …), from a `processes()` listing. */
export function descendants(root: number, list = processes()): Set<number> {
  const found = new Set<number>();
  let frontier = [root];
  while (frontier.length) {
    const next = list.filter((p) => frontier.includes(p.ppid) && !found.has(p.pid)).map((p) => p.pid);
    for (const p of next) found.add(p);
    frontier = next;
  }
  return found;
}

/** Resident memory of this process and every process below it (Chromium, the render process), MiB. */
export function treeRssMiB(): number {
  let kb = rssKiB(process.pid) ?? 0;
  for (const pid of descendants(process.pid)) kb += rssKiB(pid) ?? 0;
  return kb / 1024;
}

export const pct = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

/** Date, machine and load, as every table in docs/performance.md is headed. */
export function machineLine(): string {
  const [l1, l5, l15] = loadavg().map((x) => x.toFixed(2));
  return `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'} (nproc ${cpus().length}), load average ${l1} / ${l5} / ${l15}, Node ${process.version}`;
}

export type BenchServer = Awaited<ReturnType<typeof startBenchServer>>;

/** the newest modification time (ms) of a file under `dir` whose name matches `re` */
function newest(dir: string, re: RegExp): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, re));
    else if (re.test(e.name)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/** Refuses to measure a build older than its sources (the bench would time yesterday's code). */
function requireFreshBuild(root: string) {
  const built = [join(root, 'dist/cli/press-cloud.js'), join(root, 'packages/engine/dist/index.js')];
  const missing = built.find((f) => !existsSync(f));
  const stale = !missing && Math.min(...built.map((f) => statSync(f).mtimeMs)) < Math.max(newest(join(root, 'src'), /\.ts$/), newest(join(root, 'packages/engine/src'), /\.ts$/));
  if (missing || stale) {
    throw new Error(`the server's build is ${missing ? 'missing' : 'older than its sources'}: run \`npm run build:packages && npm run build:server\` (npm run bench does) or set BENCH_SOURCE=1`);
  }
}

/**
 * Press Cloud as `npm start` runs it: `node bin/press-cloud.js serve` from the built JavaScript, in a process of its
 * own (renders in its render process), on a fresh data directory with an embedded store; `env` adds configuration.
 * So the client (this process) does not share the server's event loop, and no server process runs through tsx, whose
 * source maps make every stack trace dearer (Playwright takes one per call; docs/performance.md).
 * BENCH_SOURCE=1: the server in this process from the TypeScript sources, as the benchmarks ran it until 2026-11-30.
 * `root`: another built checkout of the project (bench/ab.ts runs a base beside this one).
 */
export async function startBenchServer(env: Record<string, string> = {}, root = ROOT) {
  const dataDir = mkdtempSync(join(tmpdir(), 'press-bench-'));
  const config = { PORT: '0', HOST: '127.0.0.1', PRESS_DATA_DIR: dataDir, LOG_LEVEL: 'warn', PRESS_RENDER_CONCURRENCY: '4', ...env };
  const startedAt = performance.now();
  if (process.env.BENCH_SOURCE === '1') {
    const { loadConfig } = await import('../src/config.js');
    const { startServer } = await import('../src/start/server.js');
    const server = await startServer(loadConfig(config), { logger: false, renderProcess: process.env.PRESS_RENDER_ISOLATION !== 'inline' });
    return {
      ...apiClient(server.url, server.bootstrapKey!), pid: process.pid, startedAt, how: 'in the benchmark process from the sources (tsx)', output: () => '',
      async close() {
        await server.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  requireFreshBuild(root);
  // `node --cpu-prof …` on the benchmark profiles the server (and, through it, the render process) instead
  const profile = process.execArgv.filter((a) => a.startsWith('--cpu-prof'));
  const child = spawn(process.execPath, [...profile, join(root, 'bin/press-cloud.js'), 'serve'], {
    cwd: root, env: { ...process.env, LOG_FORMAT: 'json', ...config }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (b: Buffer) => (out = (out + b.toString()).slice(-20_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const stop = async () => {
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const { url, key } = await new Promise<{ url: string; key: string }>((resolve, reject) => {
      const check = setInterval(() => {
        const u = /ready at (http:\/\/\S+) /.exec(out);
        const k = /PRESS_CLOUD_TOKEN=(\S+)/.exec(out);
        if (u && k) {
          clearInterval(check);
          resolve({ url: u[1], key: k[1] });
        }
      }, 5);
      void exited.then((code) => {
        clearInterval(check);
        reject(new Error(`the server exited (${code}):\n${out}`));
      });
    });
    return { ...apiClient(url, key), pid: child.pid!, startedAt, how: 'node bin/press-cloud.js serve (built, as npm start)', output: () => out, close: stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

const BROWSERS_ROOT = join(tmpdir(), 'press-bench-browsers');
let ownTmp: string | null = null;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * The temporary directory of the browsers this benchmark process launches itself (raw loops, peers): Playwright and
 * puppeteer make a profile per launch under TMPDIR and remove it only at a clean close, so benchmarks killed mid-run
 * left them in /tmp (≈ 80 once). Here they go under $TMPDIR/press-bench-browsers/<pid>, removed when this process
 * exits, also on SIGINT/SIGTERM/SIGHUP; the directories of processes that no longer run (kill -9) go at the next
 * benchmark's start.
 */
export function benchTmpdir(): string {
  if (ownTmp) return ownTmp;
  mkdirSync(BROWSERS_ROOT, { recursive: true });
  for (const d of readdirSync(BROWSERS_ROOT)) if (!/^\d+$/.test(d) || !alive(Number(d))) rmSync(join(BROWSERS_ROOT, d), { recursive: true, force: true });
  const dir = (ownTmp = join(BROWSERS_ROOT, String(process.pid)));
  mkdirSync(dir, { recursive: true });
  const remove = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', remove);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.once(signal, () => process.exit(code)); // 'exit' removes it (and Playwright kills its browsers there)
  }
  return dir;
}

/** Runs a browser launch with TMPDIR in `benchTmpdir()` (Playwright offers no option for its profile directory). */
export async function inBenchTmpdir<T>(launch: () => Promise<T>): Promise<T> {
  const before = process.env.TMPDIR;
  process.env.TMPDIR = benchTmpdir();
  try {
    return await launch();
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  }
}

const agent = new http.Agent({ keepAlive: true });

/**
 * One HTTP request over a kept-alive connection, the whole answer read. node:http, not fetch(): undici's fetch costs
 * ≈ 0.5–1 ms more CPU and latency per request on this machine, which would count against every HTTP row (the API
 * makes two requests per document) as if it were the server's.
 */
export function request(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}) {
  return new Promise<{ status: number; body: Buffer; json(): any }>((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? 'GET', headers: init.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, body, json: () => JSON.parse(body.toString()) });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Deploys and renders over the HTTP API, as a client would. */
export function apiClient(url: string, key: string) {
  const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    request(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });

  /** Uploads `html` as index.html of a new deploy; its id. */
  async function deploy(slug: string, html: string): Promise<string> {
    const buf = Buffer.from(html);
    const sha256 = createHash('sha256').update(buf).digest('hex');
    const s = (await api('POST', '/v1/upload-sessions', { createDeploy: { slug, name: slug }, files: [{ path: 'index.html', sha256, size: buf.length, mime: 'text/html; charset=utf-8' }] })).json();
    const token = { 'x-upload-token': s.uploadToken };
    await api('PUT', `/v1/upload-sessions/${s.uploadSession.id}/blobs/${sha256}`, buf, { ...token, 'content-type': 'application/octet-stream' });
    await api('POST', `/v1/upload-sessions/${s.uploadSession.id}/commit`, {}, token);
    return s.uploadSession.deployId;
  }

  /** One document: create with ?wait (held until terminal), then download the PDF. `ms`: create → succeeded; a failure carries the job's error code (or status). */
  async function apiDoc(deployId: string): Promise<{ ms: number; ok: boolean; error?: string }> {
    const t = performance.now();
    const res = await api('POST', '/v1/render-jobs?wait=60', { deployId });
    const { job } = res.json();
    const created = performance.now() - t;
    if (job?.status !== 'succeeded') return { ms: created, ok: false, error: job?.error?.code ?? job?.status ?? `HTTP ${res.status}` };
    const pdf = await api('GET', `/v1/render-jobs/${job.id}/output`);
    return { ms: created, ok: pdf.status === 200 && pdf.body.length > 0 };
  }

  return { url, key, api, deploy, apiDoc };
}

/** Runs `one(i)` for i = 0…n-1, `c` at a time: wall time and each call's latency (sorted), failures counted. */
export async function closedLoop(c: number, n: number, one: (i: number) => Promise<{ ms: number; ok: boolean }>) {
  const latencies: number[] = [];
  let failures = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: c }, async () => {
    while (next < n) {
      const i = next++;
      const r = await one(i).catch(() => ({ ms: 0, ok: false }));
      latencies.push(r.ms);
      if (!r.ok) failures++;
    }
  }));
  const wallMs = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  return { n, c, wallMs, docsPerSec: (n / wallMs) * 1000, p50: pct(latencies, 0.5), p95: pct(latencies, 0.95), failures };
}
