/** What the benchmarks share: an embedded Press Cloud server driven over HTTP, and /proc sampling. */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/start/server.js';

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

/**
 * Press Cloud started in this process with an embedded store in a temp folder, renders in the render process
 * (as `serve` runs them) unless PRESS_RENDER_ISOLATION=inline; `env` adds configuration.
 */
export async function startBenchServer(env: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'press-bench-'));
  const server = await startServer(
    loadConfig({ PORT: '0', HOST: '127.0.0.1', PRESS_DATA_DIR: dataDir, LOG_LEVEL: 'warn', PRESS_RENDER_CONCURRENCY: '4', ...env }),
    { logger: false, renderProcess: process.env.PRESS_RENDER_ISOLATION !== 'inline' },
  );
  return { ...apiClient(server.url, server.bootstrapKey!), server, dataDir, async close() {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  } };
}

/** Deploys and renders over the HTTP API, as a client would. */
export function apiClient(url: string, key: string) {
  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });

  /** Uploads `html` as index.html of a new deploy; its id. */
  async function deploy(slug: string, html: string): Promise<string> {
    const buf = Buffer.from(html);
    const sha256 = createHash('sha256').update(buf).digest('hex');
    const s = await (await api('POST', '/v1/upload-sessions', { createDeploy: { slug, name: slug }, files: [{ path: 'index.html', sha256, size: buf.length, mime: 'text/html; charset=utf-8' }] })).json();
    const token = { 'x-upload-token': s.uploadToken };
    await fetch(`${url}/v1/upload-sessions/${s.uploadSession.id}/blobs/${sha256}`, {
      method: 'PUT', headers: { authorization: `Bearer ${key}`, ...token, 'content-type': 'application/octet-stream' }, body: buf,
    });
    await api('POST', `/v1/upload-sessions/${s.uploadSession.id}/commit`, {}, token);
    return s.uploadSession.deployId;
  }

  /** One API document: create with ?wait (held until terminal), then download the PDF. `ms`: create → succeeded. */
  /** One document: create (held until terminal) + download; a failure carries the job's error code (or status). */
  async function apiDoc(deployId: string): Promise<{ ms: number; ok: boolean; error?: string }> {
    const t = performance.now();
    const res = await api('POST', '/v1/render-jobs?wait=60', { deployId });
    const { job } = await res.json();
    const created = performance.now() - t;
    if (job?.status !== 'succeeded') return { ms: created, ok: false, error: job?.error?.code ?? job?.status ?? `HTTP ${res.status}` };
    const pdf = await api('GET', `/v1/render-jobs/${job.id}/output`);
    const bytes = new Uint8Array(await pdf.arrayBuffer());
    return { ms: created, ok: pdf.status === 200 && bytes.length > 0 };
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
