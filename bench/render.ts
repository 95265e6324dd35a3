/**
 * Render benchmark: the full API path (create → succeeded → download) against raw Playwright loops measured in the
 * same run (same browser binary and flags, warm pages): setContent + page.pdf (the cheapest print), a fresh document
 * per print served as the renderer serves it (the floor for a renderer that isolates jobs), and that fresh document
 * printed only once §9.1's readiness rule holds (what the API must wait for; printing earlier is a wrong PDF).
 * The server runs as `npm start` runs it: built JavaScript, its own process (`npm run bench` builds first).
 *
 *   npm run bench                 # all rows
 *   BENCH_QUICK=1 npm run bench   # fewer documents per row
 *   BENCH_API_ONLY=1 node --cpu-prof --cpu-prof-dir=/tmp/prof --conditions=source --import tsx bench/render.ts
 *                                 # the API rows alone, with a CPU profile of the API and the render process
 *   BENCH_SOURCE=1 npm run bench  # the server in the benchmark process from the sources through tsx (the old way)
 *   BENCH_DOCS="1 page" npm run bench   # one document's rows only ("1 page" or "50 pages")
 *   BENCH_DISTRIBUTED=1 BENCH_DATABASE_URL=postgres://press:press@127.0.0.1:5432/postgres npm run bench
 *                                 # + the API rows on PostgreSQL (a fresh database) and S3 (S3_* if set, else s3rver)
 *   BENCH_SANDBOX_COMPARE=1 npm run bench
 *                                 # + the API rows on a second server with Chromium's sandbox off (PRESS_CHROMIUM_SANDBOX=off)
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { findChromium } from '../packages/engine/src/chromium/find-chromium.js';
import { decideSandbox } from '../packages/engine/src/chromium/sandbox.js';
import { fiftyPages, onePage } from './documents.js';
import { rawLoop } from './raw-playwright.js';
import { machineCpuSeconds, pct, startBenchServer, type BenchServer } from './support.js';

const quick = process.env.BENCH_QUICK === '1';
/** BENCH_API_ONLY=1: the API rows alone (profiling the service with node --cpu-prof) */
const apiOnly = process.env.BENCH_API_ONLY === '1';
const routedToo = process.env.BENCH_ROUTED === '1';
const fromSource = process.env.BENCH_SOURCE === '1';
// tsx (which runs this file) maps every stack trace through source maps, and Playwright takes one per call: the raw
// loops run in this process, so they would pay for it where the built server does not (docs/performance.md).
if (!fromSource) process.setSourceMapsEnabled(false);

/** Resident memory of this process and every Chromium process, sampled while a row runs. */
function rssMiB(): number {
  let kb = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      // this process, the server, Chromium, and the render process that drives it (press-cloud serve renders there)
      if (Number(pid) !== process.pid && !/chrom|headless_shell|render-process-main|press-cloud\.js/i.test(cmd)) continue;
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // process ended while sampling
    }
  }
  return kb / 1024;
}

/** Runs `fn`, measuring wall time and machine CPU from when `fn` calls `timed()` (or from the start). */
async function measure<T>(fn: (timed: () => void) => Promise<T>) {
  let peak = rssMiB();
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB())), 100);
  let cpu0 = machineCpuSeconds();
  let t0 = performance.now();
  const load0 = loadavg()[0];
  try {
    const result = await fn(() => {
      cpu0 = machineCpuSeconds();
      t0 = performance.now();
    });
    return { result, wallMs: performance.now() - t0, cpuSeconds: machineCpuSeconds() - cpu0, peakRssMiB: peak, load: [load0, loadavg()[0]] as [number, number] };
  } finally {
    clearInterval(sampler);
  }
}


interface Row {
  doc: string;
  path: 'raw loop' | 'raw, fresh doc' | 'raw, fresh doc + §9.1 readiness' | 'raw, fresh doc, routed' | 'API' | 'API (PG+S3)' | 'API, sandbox off';
  c: number;
  n: number;
  docsPerSec: number;
  p50: number;
  p95: number;
  cpuPerDoc: number;
  rss: number;
  failures: number;
  /** the browser's version (raw rows) */
  version?: string;
  /** 1-minute load average at the row's start and end */
  load: [number, number];
}

async function main() {
  const engine = await findChromium();
  let server: BenchServer = await startBenchServer();
  // The sandbox's cost: the same API rows against a server whose Chromium runs without it, interleaved with the rows
  // of the first one (which runs it wherever it can: docs/security-model.md).
  const sandboxOff = process.env.BENCH_SANDBOX_COMPARE === '1' ? await startBenchServer({ PRESS_CHROMIUM_SANDBOX: 'off' }) : null;
  const offDeploys = new Map<string, string>();
  let distributed: Awaited<ReturnType<typeof startDistributed>> | null = null;
  let serverClosed = false;
  let client: BenchServer = server;
  const deploy = (slug: string, html: string) => client.deploy(slug, html);
  const apiDoc = (deployId: string) => client.apiDoc(deployId);

  async function apiRow(doc: string, deployId: string, c: number, n: number): Promise<Row> {
    for (let i = 0; i < c; i++) await apiDoc(deployId); // warm the account's pages
    const latencies: number[] = [];
    let failures = 0;
    let next = 0;
    const m = await measure(() =>
      Promise.all(Array.from({ length: c }, async () => {
        while (next < n) {
          next++;
          const r = await apiDoc(deployId);
          latencies.push(r.ms);
          if (!r.ok) failures++;
        }
      })),
    );
    latencies.sort((a, b) => a - b);
    return { doc, path: 'API', c, n, docsPerSec: (n / m.wallMs) * 1000, p50: pct(latencies, 0.5), p95: pct(latencies, 0.95), cpuPerDoc: m.cpuSeconds / n, rss: m.peakRssMiB, failures, load: m.load };
  }

  const rawPaths = {
    setContent: 'raw loop', navigate: 'raw, fresh doc', 'navigate-ready': 'raw, fresh doc + §9.1 readiness', 'navigate-routed': 'raw, fresh doc, routed',
  } as const;
  async function rawRow(doc: string, html: string, c: number, n: number, mode: keyof typeof rawPaths = 'setContent'): Promise<Row> {
    // CPU from the first timed document on: the browser launch and warm-up are not the loop's.
    const m = await measure((timed) => rawLoop({ executablePath: engine.executablePath, args: engine.args, html, count: n, concurrency: c, mode, onTimedStart: timed }));
    return { doc, path: rawPaths[mode], c, n, docsPerSec: m.result.docsPerSecond, p50: m.result.p50Ms, p95: m.result.p95Ms, cpuPerDoc: m.cpuSeconds / n, rss: m.peakRssMiB, failures: 0, load: m.load, version: m.result.version };
  }

  // BENCH_DOCS="1 page" or "50 pages": one document's rows only (a run within the test lock's few minutes)
  const docs = [
    { name: '1 page', html: onePage, n: quick ? 30 : 120 },
    { name: '50 pages', html: fiftyPages, n: quick ? 8 : 24 },
  ].filter((d) => !process.env.BENCH_DOCS || d.name === process.env.BENCH_DOCS);
  const rows: Row[] = [];
  let chromiumVersion = '';
  try {
    for (const d of docs) {
      const deployId = await deploy(d.name === '1 page' ? 'bench-one' : 'bench-fifty', d.html);
      for (const c of [1, 2, 4]) {
        if (apiOnly) {
          const viaApi = await apiRow(d.name, deployId, c, d.n);
          rows.push(viaApi);
          process.stderr.write(`${d.name} c=${c}: API ${viaApi.docsPerSec.toFixed(1)}/s (p50 ${viaApi.p50.toFixed(0)} ms)\n`);
          continue;
        }
        const raw = await rawRow(d.name, d.html, c, d.n);
        const fresh = await rawRow(d.name, d.html, c, d.n, 'navigate');
        const freshReady = await rawRow(d.name, d.html, c, d.n, 'navigate-ready');
        // BENCH_ROUTED=1: also the fresh document served by request interception (the renderer's way before issue 15)
        if (routedToo) rows.push(await rawRow(d.name, d.html, c, d.n, 'navigate-routed'));
        const viaApi = await apiRow(d.name, deployId, c, d.n);
        rows.push(raw, fresh, freshReady, viaApi);
        chromiumVersion = fresh.version ?? chromiumVersion;
        if (sandboxOff) {
          const on = client;
          client = sandboxOff;
          try {
            if (!offDeploys.has(d.name)) offDeploys.set(d.name, await deploy(d.name === '1 page' ? 'bench-one' : 'bench-fifty', d.html));
            const off: Row = { ...(await apiRow(d.name, offDeploys.get(d.name)!, c, d.n)), path: 'API, sandbox off' };
            rows.push(off);
            process.stderr.write(`${d.name} c=${c}: API with the sandbox off ${off.docsPerSec.toFixed(1)}/s (p50 ${off.p50.toFixed(0)} ms)\n`);
          } finally {
            client = on;
          }
        }
        process.stderr.write(`${d.name} c=${c}: raw ${raw.docsPerSec.toFixed(1)}/s, raw fresh doc ${fresh.docsPerSec.toFixed(1)}/s, + readiness ${freshReady.docsPerSec.toFixed(1)}/s, API ${viaApi.docsPerSec.toFixed(1)}/s (p50 ${viaApi.p50.toFixed(0)} ms, failures ${viaApi.failures})\n`);
      }
    }
    if (process.env.BENCH_DISTRIBUTED === '1') {
      // the same API rows with the server on PostgreSQL + S3 (the raw rows above stay the baseline)
      await server.close();
      serverClosed = true;
      distributed = await startDistributed();
      server = client = distributed.server;
      serverClosed = false;
      for (const d of docs) {
        const deployId = await deploy(d.name === '1 page' ? 'bench-one' : 'bench-fifty', d.html);
        for (const c of [1, 2, 4]) {
          const viaApi: Row = { ...(await apiRow(d.name, deployId, c, d.n)), path: 'API (PG+S3)' };
          rows.push(viaApi);
          process.stderr.write(`${d.name} c=${c}: API on PG+S3 ${viaApi.docsPerSec.toFixed(1)}/s (p50 ${viaApi.p50.toFixed(0)} ms, failures ${viaApi.failures})\n`);
        }
      }
    }
  } finally {
    if (!serverClosed) await server.close();
    await sandboxOff?.close();
    await distributed?.stop();
  }

  const header = '| document | path | c | docs | docs/s | p50 ms | p95 ms | CPU-s/doc | peak RSS MiB | × raw loop | × raw fresh doc | × raw fresh doc + readiness | failures | load avg |';
  const lines = [header, '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const ratio = (path: Row['path']) => {
      const base = rows.find((x) => x.doc === r.doc && x.c === r.c && x.path === path);
      return base ? (r.docsPerSec / base.docsPerSec).toFixed(2) : '';
    };
    const vsFresh = r.path === 'raw loop' ? '' : ratio('raw, fresh doc');
    const vsReady = r.path === 'raw loop' || r.path === 'raw, fresh doc' ? '' : ratio('raw, fresh doc + §9.1 readiness');
    lines.push(`| ${r.doc} | ${r.path} | ${r.c} | ${r.n} | ${r.docsPerSec.toFixed(1)} | ${r.p50.toFixed(0)} | ${r.p95.toFixed(0)} | ${r.cpuPerDoc.toFixed(3)} | ${r.rss.toFixed(0)} | ${ratio('raw loop')} | ${vsFresh} | ${vsReady} | ${r.failures} | ${r.load[0].toFixed(1)}→${r.load[1].toFixed(1)} |`);
  }
  console.log(`\nRender benchmark — ${new Date().toISOString().slice(0, 10)}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${engine.engine} ${chromiumVersion} (${engine.executablePath})`);
  const sandbox = decideSandbox();
  console.log(`API rows: ${server.how}; Chromium sandbox ${sandbox.enabled ? `on, as ${sandbox.user}` : `off (${sandbox.reason})`}. Raw rows: in the benchmark process${fromSource ? '' : ' (source maps off)'}, no sandbox.`);
  if (distributed) console.log(`API (PG+S3): PostgreSQL ${distributed.pgVersion} (fresh database, default durability) + ${distributed.s3}, same machine.`);
  console.log('API latency = POST /v1/render-jobs?wait=60 until the job succeeded (client side, over HTTP); download not included in p50/p95 but in docs/s.\n');
  console.log(lines.join('\n'));
}

/**
 * BENCH_DISTRIBUTED=1: the server on a fresh PostgreSQL database (BENCH_DATABASE_URL or PRESS_TEST_DATABASE_URL, a role
 * that may CREATE DATABASE) and an S3 store: the S3_* environment when S3_BUCKET is set, else s3rver in this process.
 */
async function startDistributed() {
  const base = process.env.BENCH_DATABASE_URL || process.env.PRESS_TEST_DATABASE_URL;
  if (!base) throw new Error('BENCH_DISTRIBUTED=1 needs BENCH_DATABASE_URL (postgres://…, a role that may CREATE DATABASE)');
  const { default: pg } = await import('pg');
  const name = `press_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const pgVersion = (await admin.query('SHOW server_version')).rows[0].server_version as string;
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const s3env = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('S3_') && v)) as Record<string, string>;
  const s3rver = s3env.S3_BUCKET ? null : await (await import('../test/helpers/s3-server.js')).startS3Server({ bucket: 'press-bench' });
  const server = await startBenchServer({ DATABASE_URL: url.toString(), PRESS_SECRET_KEY: randomBytes(32).toString('hex'), ...(s3rver?.env ?? s3env) });
  return {
    server, pgVersion, s3: s3rver ? 's3rver (in-process S3 emulator)' : `S3 bucket ${s3env.S3_BUCKET}`,
    async stop() {
      await s3rver?.stop();
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

await main();
