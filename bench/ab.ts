/**
 * A/B of the API rows: this checkout against other built ones (a base, or several variants), all servers up at once,
 * rows alternating base, …, this, base, … so all see the same machine. Per row: docs/s, p50, the machine's CPU-s per
 * document and the render process's own CPU per document (ms, from /proc of the server's render-process child).
 * BENCH_AB_RAW adds raw Playwright loops (bench/raw-playwright.ts) to every round, in this process on the same
 * Chromium, so each server's docs/s can be set against them in the same run (ratios per round in a second table);
 * BENCH_AB_PUPPETEER=1 adds the hand-written puppeteer server of `npm run bench:peers` the same way (issue 15 goal 3).
 *
 *   git worktree add /tmp/base main && (cd /tmp/base && npm ci && npm run build:no-dashboard)   # or a copy
 *   npm run build:no-dashboard && node --conditions=source --import tsx bench/ab.ts /tmp/base [/tmp/variant …]
 *   BENCH_AB_ROUNDS=3 BENCH_AB_DOCS=80 BENCH_AB_C="1 2 4" BENCH_DOCS="50 pages" … (defaults: 2 rounds, 60, 1 2 4, 1 page)
 *   BENCH_AB_RAW="setContent navigate navigate-ready" …   # + those raw loops in every round (default: none)
 *   BENCH_AB_PUPPETEER=1 …                                 # + the puppeteer server in every round
 * With one other checkout its rows are named `base`; with several, by their folder's name.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { findChromium } from '../packages/engine/src/chromium/find-chromium.js';
import { fiftyPages, onePage } from './documents.js';
import { installPeers, startPuppeteerServer } from './peer-support.js';
import { rawLoop, type RawLoopOptions } from './raw-playwright.js';
import { closedLoop, machineCpuSeconds, machineLine, processes, startBenchServer } from './support.js';
import type { BenchServer } from './support.js';

process.setSourceMapsEnabled(false);
const others = process.argv.slice(2);
if (others.length === 0) throw new Error('usage: bench/ab.ts <built checkout to compare against> [<another> …]');
const rounds = Number(process.env.BENCH_AB_ROUNDS ?? 2);
const n = Number(process.env.BENCH_AB_DOCS ?? 60);
const levels = (process.env.BENCH_AB_C ?? '1 2 4').split(/\s+/).map(Number);
const fifty = process.env.BENCH_DOCS === '50 pages';
const rawModes = (process.env.BENCH_AB_RAW ?? '').split(/\s+/).filter(Boolean) as NonNullable<RawLoopOptions['mode']>[];
const knownModes = ['setContent', 'navigate', 'navigate-routed', 'navigate-ready'];
const unknown = rawModes.find((m) => !knownModes.includes(m));
if (unknown) throw new Error(`BENCH_AB_RAW: unknown loop ${unknown} (one of ${knownModes.join(', ')})`);
const withPuppeteer = process.env.BENCH_AB_PUPPETEER === '1';
/** the rows every server is set against (ratios table) */
const baselines = [...rawModes.map((m) => `raw ${m}`), ...(withPuppeteer ? ['puppeteer server'] : [])];

/** CPU seconds (user + system) of one process from /proc/<pid>/stat. */
function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The server's render process (the node child running render-process-main). */
function renderProcess(server: BenchServer): number {
  const found = processes().find((p) => p.ppid === server.pid && /render-process-main/.test(p.cmd));
  if (!found) throw new Error('no render process below the server');
  return found.pid;
}

async function main() {
  const html = fifty ? fiftyPages : onePage;
  const sides: Array<{ name: string; server: BenchServer }> = [];
  const rows: string[] = [];
  /** docs/s per row name, per c, per round: the ratios table */
  const rate = new Map<string, number>();
  const key = (name: string, c: number, round: number) => `${name}|${c}|${round}`;
  let chromium = '';
  let puppeteer: Awaited<ReturnType<typeof startPuppeteerServer>> | null = null;
  try {
    for (const root of others) sides.push({ name: others.length === 1 ? 'base' : basename(root), server: await startBenchServer({}, root) });
    sides.push({ name: 'this', server: await startBenchServer() });
    const engine = baselines.length > 0 ? await findChromium() : null;
    if (withPuppeteer) {
      installPeers();
      puppeteer = await startPuppeteerServer(engine!);
      for (let i = 0; i < 4; i++) await puppeteer.one(html);
    }
    const deploys = new Map<BenchServer, string>();
    for (const { server } of sides) {
      deploys.set(server, await server.deploy('bench-ab', html));
      for (let i = 0; i < 4; i++) await server.apiDoc(deploys.get(server)!); // first renders, the spare page taken
    }
    const push = (row: string) => {
      rows.push(row);
      process.stderr.write(`${row}\n`);
    };
    for (const c of levels) {
      for (let round = 1; round <= rounds; round++) {
        for (const { name, server } of sides) {
          const deployId = deploys.get(server)!;
          for (let i = 0; i < c; i++) await server.apiDoc(deployId); // the account's warm pages
          const render = renderProcess(server);
          const cpu0 = machineCpuSeconds();
          const render0 = processCpuSeconds(render);
          const r = await closedLoop(c, n, () => server.apiDoc(deployId));
          const cpu = (machineCpuSeconds() - cpu0) / n;
          const renderMs = ((processCpuSeconds(render) - render0) * 1000) / n;
          rate.set(key(name, c, round), r.docsPerSec);
          push(`| ${c} | ${round} | ${name} | ${n} | ${r.docsPerSec.toFixed(1)} | ${r.p50.toFixed(0)} | ${r.p95.toFixed(0)} | ${cpu.toFixed(3)} | ${renderMs.toFixed(1)} | ${r.failures} |`);
        }
        for (const mode of rawModes) {
          let cpu0 = 0;
          const r = await rawLoop({ executablePath: engine!.executablePath, args: engine!.args, html, count: n, concurrency: c, mode, onTimedStart: () => (cpu0 = machineCpuSeconds()) });
          const cpu = (machineCpuSeconds() - cpu0) / n;
          chromium = r.version;
          rate.set(key(`raw ${mode}`, c, round), r.docsPerSecond);
          push(`| ${c} | ${round} | raw ${mode} | ${n} | ${r.docsPerSecond.toFixed(1)} | ${r.p50Ms.toFixed(0)} | ${r.p95Ms.toFixed(0)} | ${cpu.toFixed(3)} | | 0 |`);
        }
        if (puppeteer) {
          const peer = puppeteer;
          const cpu0 = machineCpuSeconds();
          const r = await closedLoop(c, n, () => peer.one(html));
          rate.set(key('puppeteer server', c, round), r.docsPerSec);
          push(`| ${c} | ${round} | puppeteer server | ${n} | ${r.docsPerSec.toFixed(1)} | ${r.p50.toFixed(0)} | ${r.p95.toFixed(0)} | ${((machineCpuSeconds() - cpu0) / n).toFixed(3)} | | ${r.failures} |`);
        }
      }
    }
  } finally {
    for (const { server } of sides) await server.close();
    puppeteer?.child.kill('SIGTERM');
  }
  console.log(`\nA/B of the API rows (${fifty ? '50 pages' : '1 page'}), ${machineLine()}${chromium ? `, ${chromium}` : ''}; others: ${others.join(', ')}`);
  console.log('| c | round | row | docs | docs/s | p50 ms | p95 ms | CPU-s/doc (machine) | render process CPU ms/doc | failures |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  console.log(rows.join('\n'));
  if (baselines.length > 0) {
    // each server's docs/s over each baseline's, within the same round (ratios across rounds: min–max)
    console.log(`\n| c | server | ${baselines.map((b) => `× ${b}`).join(' | ')} |`);
    console.log(`|---|---|${baselines.map(() => '---|').join('')}`);
    for (const c of levels) {
      for (const { name } of sides) {
        const cells = baselines.map((b) => {
          const ratios = Array.from({ length: rounds }, (_, i) => rate.get(key(name, c, i + 1))! / rate.get(key(b, c, i + 1))!);
          const lo = Math.min(...ratios).toFixed(2);
          const hi = Math.max(...ratios).toFixed(2);
          return lo === hi ? lo : `${lo}–${hi}`;
        });
        console.log(`| ${c} | ${name} | ${cells.join(' | ')} |`);
      }
    }
  }
}

await main();
