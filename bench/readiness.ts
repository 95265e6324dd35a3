/**
 * The price of the readiness rule (spec §9.1): `readyMs` (entry committed → ready to print) and the whole render
 * per job, straight on the ChromiumRenderer (no API, no storage), one warm page, one job at a time, for the
 * one-page invoice (no scripts) and a page that reads its data with two chained fetch() calls.
 *
 *   node --import tsx bench/readiness.ts   # BENCH_RUNS=100 by default
 */
import { ChromiumRenderer } from '../packages/engine/src/chromium/chromium-renderer.js';
import { fixtureFiles, jsonPayload, renderRequest } from '../test/renderer/support.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 100);
const cases = [
  { name: 'invoice, no scripts', app: 'simple', entry: 'index.html' },
  { name: 'two chained fetches', app: 'readiness', entry: 'chain2.html' },
];

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

const renderer = new ChromiumRenderer({ capacity: 1 });
await renderer.start();
try {
  for (const c of cases) {
    const files = fixtureFiles(c.app);
    const once = () =>
      renderer.render(
        renderRequest(c.app, { entry: c.entry, files, payload: jsonPayload({ n: 1 }), env: { REGION: 'eu' } }),
      );
    for (let i = 0; i < 5; i++) await once();
    const ready: number[] = [];
    const total: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await once();
      ready.push(r.timings.readyMs);
      total.push(r.timings.totalMs);
    }
    ready.sort((a, b) => a - b);
    total.sort((a, b) => a - b);
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(
      `${c.name}: readyMs avg ${avg(ready).toFixed(1)} p50 ${pct(ready, 0.5).toFixed(1)} p95 ${pct(ready, 0.95).toFixed(1)}; ` +
        `totalMs avg ${avg(total).toFixed(1)} p50 ${pct(total, 0.5).toFixed(1)} p95 ${pct(total, 0.95).toFixed(1)} (${RUNS} runs)`,
    );
  }
} finally {
  await renderer.close();
}
