/**
 * Soak: memory over thousands of renders. Starts the built server as `npm start` does (`node bin/press-cloud.js
 * serve`, fresh data directory, renders in the render process), then renders BENCH_SOAK_DOCS one-page invoices and
 * BENCH_SOAK_BIG 50-page reports (one every docs/big) at c = BENCH_SOAK_C through the API (create ?wait +
 * download). Every BENCH_SOAK_SAMPLE_S seconds it samples the resident memory of the API process, the render process
 * and every Chromium process (from /proc). The browser is made to recycle once, halfway
 * (PRESS_BROWSER_RECYCLE_AFTER), so the series crosses a recycle. Also measured: time from the start of the server
 * process to the first PDF (cold), and the first PDF served by the recycled browser.
 *
 *   npm run bench:soak                    # 5000 + 200 documents at c=2 (≈ 10–15 min on 2 cores)
 *   BENCH_QUICK=1 npm run bench:soak      # 600 + 24
 */
import { fiftyPages, onePage } from './documents.js';
import { closedLoop, descendants, machineLine, pct, processes, rssKiB, startBenchServer } from './support.js';

const quick = process.env.BENCH_QUICK === '1';
const DOCS = Number(process.env.BENCH_SOAK_DOCS ?? (quick ? 600 : 5000));
const BIG = Number(process.env.BENCH_SOAK_BIG ?? (quick ? 24 : 200));
const C = Number(process.env.BENCH_SOAK_C ?? 2);
const SAMPLE_MS = Number(process.env.BENCH_SOAK_SAMPLE_S ?? 10) * 1000;

interface Sample {
  s: number;
  done: number;
  apiMiB: number;
  renderMiB: number;
  chromiumMiB: number;
  chromiumProcs: number;
  largestRendererMiB: number;
  restarts: number;
  pagesRecycled: number;
}

const mib = (kb: number) => Math.round(kb / 1024);

async function main() {
  const recycleAt = Math.round((DOCS + BIG) / 2);
  const server = await startBenchServer({ PRESS_RENDER_CONCURRENCY: String(C), PRESS_BROWSER_RECYCLE_AFTER: String(recycleAt) });
  const { url, startedAt: t0 } = server;
  try {
    const listeningMs = performance.now() - t0;
    const one = await server.deploy('soak-one', onePage);
    const first = await server.apiDoc(one);
    const firstPdfMs = performance.now() - t0;
    if (!first.ok) throw new Error(`first render failed:\n${server.output()}`);
    const big = await server.deploy('soak-fifty', fiftyPages);

    const status = async () => {
      const r = await fetch(`${url}/readyz`).then((x) => x.json()).catch(() => null);
      const detail = r?.checks?.renderer?.detail ?? {};
      return { restarts: Number(detail.restarts ?? 0), pagesRecycled: Number(detail.memory?.pagesRecycled ?? 0), memory: detail.memory };
    };
    const samples: Sample[] = [];
    let done = 0;
    const sample = async () => {
      const list = processes();
      const render = list.find((p) => p.ppid === server.pid && /render-process-main/.test(p.cmd));
      const chromium = render ? [...descendants(render.pid, list)] : [];
      let chromiumKb = 0;
      let largest = 0;
      for (const pid of chromium) {
        const kb = rssKiB(pid) ?? 0;
        chromiumKb += kb;
        if (/--type=renderer/.test(list.find((p) => p.pid === pid)?.cmd ?? '')) largest = Math.max(largest, kb);
      }
      const st = await status();
      samples.push({
        s: Math.round((performance.now() - t0) / 1000), done, apiMiB: mib(rssKiB(server.pid) ?? 0),
        renderMiB: mib(render ? rssKiB(render.pid) ?? 0 : 0), chromiumMiB: mib(chromiumKb), chromiumProcs: chromium.length,
        largestRendererMiB: mib(largest), restarts: st.restarts, pagesRecycled: st.pagesRecycled,
      });
      const x = samples.at(-1)!;
      process.stderr.write(`${x.s}s ${x.done} docs: API ${x.apiMiB} MiB, render ${x.renderMiB} MiB, Chromium ${x.chromiumMiB} MiB in ${x.chromiumProcs} (largest renderer ${x.largestRendererMiB}), restarts ${x.restarts}, pages recycled ${x.pagesRecycled}\n`);
    };
    await sample();
    const sampler = setInterval(() => void sample(), SAMPLE_MS);

    // The first PDF the recycled browser serves: watch the restart count once a second.
    let restarts = (await status()).restarts;
    let recycledAt: number | null = null;
    const watcher = setInterval(() => void status().then((s) => {
      if (s.restarts > restarts && recycledAt === null) recycledAt = performance.now();
      restarts = s.restarts;
    }), 1000);

    const every = BIG > 0 ? Math.floor((DOCS + BIG) / BIG) : Infinity;
    const total = DOCS + BIG;
    const lat = { one: [] as number[], big: [] as number[] };
    const afterRecycle: number[] = [];
    /** failures by kind of document and error code (e.g. a 50-page document over PRESS_RENDER_MEMORY_MIB) */
    const failed = new Map<string, number>();
    const loop = await closedLoop(C, total, async (i) => {
      const isBig = (i + 1) % every === 0;
      const started = performance.now();
      const r = await server.apiDoc(isBig ? big : one).catch((err: unknown) => ({ ms: 0, ok: false, error: String(err) }));
      done++;
      if (!r.ok) {
        const k = `${isBig ? '50 pages' : '1 page'}: ${r.error}`;
        failed.set(k, (failed.get(k) ?? 0) + 1);
      }
      (isBig ? lat.big : lat.one).push(r.ms);
      if (recycledAt !== null && started > recycledAt && afterRecycle.length < 3 && !isBig) afterRecycle.push(r.ms);
      return r;
    });
    const { failures } = loop;
    const loopS = loop.wallMs / 1000;
    clearInterval(sampler);
    clearInterval(watcher);
    await sample();
    const final = await status();

    lat.one.sort((a, b) => a - b);
    lat.big.sort((a, b) => a - b);
    console.log(`\nSoak — ${machineLine()}`);
    console.log(`Server: node bin/press-cloud.js serve (built), render process, PRESS_RENDER_CONCURRENCY=${C}, PRESS_BROWSER_RECYCLE_AFTER=${recycleAt}, memory bounds ${JSON.stringify({ pageBoundMiB: final.memory?.pageBoundMiB, browserBoundMiB: final.memory?.browserBoundMiB })}`);
    console.log(`Load: ${DOCS} one-page + ${lat.big.length} fifty-page documents at c=${C}, one 50-page every ${every}; ${failures} failures${failed.size ? ` (${[...failed].map(([k, n]) => `${k} × ${n}`).join(', ')})` : ''}; ${(total / loopS).toFixed(1)} docs/s over ${loopS.toFixed(0)} s`);
    console.log(`Latency create → succeeded p50/p95: one page ${pct(lat.one, 0.5).toFixed(0)}/${pct(lat.one, 0.95).toFixed(0)} ms, 50 pages ${pct(lat.big, 0.5).toFixed(0)}/${pct(lat.big, 0.95).toFixed(0)} ms`);
    console.log(`Cold start: process start → listening ${listeningMs.toFixed(0)} ms, → first PDF downloaded ${firstPdfMs.toFixed(0)} ms (first render ${first.ms.toFixed(0)} ms)`);
    console.log(`Browser recycles: ${final.restarts}; first one-page PDFs after the recycle was seen: ${afterRecycle.map((x) => x.toFixed(0)).join(', ') || 'n/a'} ms (p50 overall ${pct(lat.one, 0.5).toFixed(0)} ms)`);
    console.log(`Memory stats at the end: ${JSON.stringify(final.memory)}\n`);
    console.log('| t s | docs | API MiB | render process MiB | Chromium MiB (procs) | largest renderer MiB | total MiB | browser restarts | pages recycled |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const x of samples) {
      console.log(`| ${x.s} | ${x.done} | ${x.apiMiB} | ${x.renderMiB} | ${x.chromiumMiB} (${x.chromiumProcs}) | ${x.largestRendererMiB} | ${x.apiMiB + x.renderMiB + x.chromiumMiB} | ${x.restarts} | ${x.pagesRecycled} |`);
    }
    const warm = samples.filter((x) => x.done >= total * 0.1);
    if (warm.length) {
      const totals = warm.map((x) => x.apiMiB + x.renderMiB + x.chromiumMiB);
      console.log(`\nAfter warm-up (≥ 10 % of the documents): total RSS min ${Math.min(...totals)} MiB, max ${Math.max(...totals)} MiB; API ${Math.min(...warm.map((x) => x.apiMiB))}–${Math.max(...warm.map((x) => x.apiMiB))} MiB, render process ${Math.min(...warm.map((x) => x.renderMiB))}–${Math.max(...warm.map((x) => x.renderMiB))} MiB, largest renderer ≤ ${Math.max(...warm.map((x) => x.largestRendererMiB))} MiB`);
    }
  } finally {
    await server.close();
  }
}

await main();
