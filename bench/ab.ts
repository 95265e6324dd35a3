/**
 * A/B of the API rows: this checkout against another built one (a base), both servers up at once, rows alternating
 * base, this, base, this… so both see the same machine. Per row: docs/s, p50, the machine's CPU-s per document and
 * the render process's own CPU per document (ms, from /proc of the server's render-process child).
 *
 *   git worktree add /tmp/base main && (cd /tmp/base && npm ci && npm run build:no-dashboard)   # or a copy
 *   npm run build:no-dashboard && node --conditions=source --import tsx bench/ab.ts /tmp/base
 *   BENCH_AB_ROUNDS=3 BENCH_AB_DOCS=80 BENCH_AB_C="1 2 4" BENCH_DOCS="50 pages" … (defaults: 2 rounds, 60, 1 2 4, 1 page)
 */
import { readFileSync } from 'node:fs';
import { fiftyPages, onePage } from './documents.js';
import { closedLoop, machineCpuSeconds, machineLine, processes, startBenchServer } from './support.js';
import type { BenchServer } from './support.js';

process.setSourceMapsEnabled(false);
const baseRoot = process.argv[2];
if (!baseRoot) throw new Error('usage: bench/ab.ts <built checkout to compare against>');
const rounds = Number(process.env.BENCH_AB_ROUNDS ?? 2);
const n = Number(process.env.BENCH_AB_DOCS ?? 60);
const levels = (process.env.BENCH_AB_C ?? '1 2 4').split(/\s+/).map(Number);
const fifty = process.env.BENCH_DOCS === '50 pages';

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
  const sides = [
    { name: 'base', server: await startBenchServer({}, baseRoot) },
    { name: 'this', server: await startBenchServer() },
  ];
  const rows: string[] = [];
  try {
    const deploys = new Map<BenchServer, string>();
    for (const { server } of sides) {
      deploys.set(server, await server.deploy('bench-ab', fifty ? fiftyPages : onePage));
      for (let i = 0; i < 4; i++) await server.apiDoc(deploys.get(server)!); // first renders, the spare page taken
    }
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
          const row = `| ${c} | ${round} | ${name} | ${n} | ${r.docsPerSec.toFixed(1)} | ${r.p50.toFixed(0)} | ${r.p95.toFixed(0)} | ${cpu.toFixed(3)} | ${renderMs.toFixed(1)} | ${r.failures} |`;
          rows.push(row);
          process.stderr.write(`${row}\n`);
        }
      }
    }
  } finally {
    for (const { server } of sides) await server.close();
  }
  console.log(`\nA/B of the API rows (${fifty ? '50 pages' : '1 page'}), ${machineLine()}; base: ${baseRoot}`);
  console.log('| c | round | server | docs | docs/s | p50 ms | p95 ms | CPU-s/doc (machine) | render process CPU ms/doc | failures |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  console.log(rows.join('\n'));
}

await main();
