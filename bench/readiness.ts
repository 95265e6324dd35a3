/**
 * The price of the readiness rule (spec §9.1): `readyMs` (entry committed → ready to print) and the whole render
 * per job, straight on the ChromiumRenderer (no API, no storage), one warm page, one job at a time, for the
 * one-page invoice (no scripts), a page that reads its data with two chained fetch() calls and a page whose
 * requestAnimationFrame loop never stops (manual readiness after 30 frames); BENCH_C renders at once (default 1). Each case runs under both frame modes
 * (`paced`: Chromium's 60 Hz begin frames; `on-demand`: begin-frame control, frames issued by the renderer, back to
 * back in the readiness window), alternating in rounds, with the CPU of this process and of each kind of Chromium
 * process per render (/proc of the process tree; both browsers are up, the idle one uses next to nothing).
 *
 *   node --conditions=source --import tsx bench/readiness.ts   # BENCH_RUNS=100 per case and mode, in BENCH_ROUNDS=2 rounds
 */
import { cpus, loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { ChromiumRenderer } from '../packages/engine/src/chromium/chromium-renderer.js';
import type { FrameMode } from '../packages/engine/src/chromium/frame-pump.js';
import { fixtureFiles, jsonPayload, renderRequest } from '../test/renderer/support.js';
import { descendants, processes } from './support.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
/** renders at once (renderer capacity); 1 by default */
const C = Number(process.env.BENCH_C ?? 1);
const MODES: FrameMode[] = ['paced', 'on-demand'];
const cases = [
  { name: 'invoice, no scripts', app: 'simple', entry: 'index.html' },
  { name: 'two chained fetches', app: 'readiness', entry: 'chain2.html' },
  { name: 'rAF loop, ready after 30 frames', app: 'readiness', entry: 'raf-loop.html' },
];

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

/** CPU ticks (1/100 s) of this process's descendants by kind: browser, renderer, gpu, network, utility. */
function chromiumTicks(): Record<string, number> {
  const list = processes();
  const out: Record<string, number> = {};
  for (const pid of descendants(process.pid, list)) {
    const p = list.find((x) => x.pid === pid)!;
    if (!/chromium|headless/.test(p.cmd)) continue;
    const type = /--type=([\w-]+)/.exec(p.cmd)?.[1];
    const kind = !type ? 'browser' : type === 'utility' ? (/Network/.test(p.cmd) ? 'network' : 'utility') : type === 'gpu-process' ? 'gpu' : type;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[kind] = (out[kind] ?? 0) + Number(f[11]) + Number(f[12]);
    } catch {
      // ended
    }
  }
  return out;
}

const renderers = new Map<FrameMode, ChromiumRenderer>();
for (const mode of MODES) {
  const r = new ChromiumRenderer({ capacity: C, frameMode: mode });
  await r.start();
  renderers.set(mode, r);
}
console.log(`c=${C}; ${cpus().length} × ${cpus()[0].model}, Node ${process.version}, ${renderers.get('paced')!.status().version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
type Row = { ready: number[]; total: number[]; node: number; chromium: Record<string, number>; n: number };
try {
  for (const c of cases) {
    const files = fixtureFiles(c.app);
    const rows = new Map<FrameMode, Row>(MODES.map((m) => [m, { ready: [], total: [], node: 0, chromium: {}, n: 0 }]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of round % 2 ? [...MODES].reverse() : MODES) {
        const renderer = renderers.get(mode)!;
        const row = rows.get(mode)!;
        const once = () =>
          renderer.render(renderRequest(c.app, { entry: c.entry, files, payload: jsonPayload({ n: 1 }), env: { REGION: 'eu' } }));
        for (let i = 0; i < 3; i++) await Promise.all(Array.from({ length: C }, once));
        const cpu0 = process.cpuUsage();
        const ticks0 = chromiumTicks();
        const runs = Math.ceil(RUNS / ROUNDS / C) * C;
        await Promise.all(
          Array.from({ length: C }, async () => {
            for (let i = 0; i < runs / C; i++) {
              const r = await once();
              row.ready.push(r.timings.readyMs);
              row.total.push(r.timings.totalMs);
            }
          }),
        );
        // the page's reset after the last print is part of the job's cost
        await new Promise((r) => setTimeout(r, 100));
        const cpu = process.cpuUsage(cpu0);
        row.node += (cpu.user + cpu.system) / 1000;
        const ticks = chromiumTicks();
        for (const [k, v] of Object.entries(ticks)) row.chromium[k] = (row.chromium[k] ?? 0) + (v - (ticks0[k] ?? 0)) * 10;
        row.n += runs;
      }
    }
    for (const mode of MODES) {
      const row = rows.get(mode)!;
      const ready = [...row.ready].sort((a, b) => a - b);
      const total = [...row.total].sort((a, b) => a - b);
      const per = (x: number) => (x / row.n).toFixed(1);
      const kinds = Object.entries(row.chromium).sort().map(([k, v]) => `${k} ${per(v)}`).join(', ');
      const sum = row.node + Object.values(row.chromium).reduce((a, b) => a + b, 0);
      console.log(
        `${c.name} [${mode}]: readyMs p50 ${pct(ready, 0.5).toFixed(1)} p95 ${pct(ready, 0.95).toFixed(1)}; totalMs p50 ${pct(total, 0.5).toFixed(1)} ` +
          `p95 ${pct(total, 0.95).toFixed(1)}; CPU ms/render: node ${per(row.node)}, ${kinds}; total ${per(sum)} (${row.n} renders)`,
      );
    }
  }
  console.log(`load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
} finally {
  for (const r of renderers.values()) await r.close();
}
