/**
 * What the render process holds across one browser generation: starts the built server as `npm start` does, renders
 * BENCH_MEM_DOCS one-page invoices at c = BENCH_MEM_C (no browser recycle in between), and at each of
 * BENCH_MEM_AT (render counts) asks the render process for process.memoryUsage() after a full GC (heap used,
 * external, ArrayBuffers) next to its RSS; at the two counts of BENCH_MEM_SNAP it writes a heap snapshot and
 * prints the constructors whose object count or retained size grew most between them.
 *
 *   npm run build:no-dashboard && node --conditions=source --import tsx bench/render-memory.ts
 *   BENCH_MEM_DOCS=1500 BENCH_MEM_AT=100,200,700,1200,1500 BENCH_MEM_SNAP=200,1200 …
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onePage } from './documents.js';
import { ROOT, closedLoop, machineLine, rssKiB, startBenchServer } from './support.js';

const DOCS = Number(process.env.BENCH_MEM_DOCS ?? 1500);
const C = Number(process.env.BENCH_MEM_C ?? 2);
const AT = (process.env.BENCH_MEM_AT ?? '100,200,700,1200,1500').split(',').map(Number);
const SNAP = (process.env.BENCH_MEM_SNAP ?? '200,1200').split(',').filter(Boolean).map(Number);

const dir = mkdtempSync(join(tmpdir(), 'press-mem-'));
const mib = (b: number) => (b / 1048576).toFixed(1);

async function probe(label: string): Promise<{ rssMiB: number; after: NodeJS.MemoryUsage; before: NodeJS.MemoryUsage }> {
  const pid = Number(readFileSync(join(dir, 'render-pid'), 'utf8'));
  const rssMiB = (rssKiB(pid) ?? 0) / 1024;
  writeFileSync(join(dir, 'request'), label);
  const lines = () => (existsSync(join(dir, 'samples.jsonl')) ? readFileSync(join(dir, 'samples.jsonl'), 'utf8').trim().split('\n') : []);
  const n = lines().length;
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 1200 && lines().length === n; i++) await new Promise((r) => setTimeout(r, 50));
  return { rssMiB, ...JSON.parse(lines().at(-1)!) };
}

/** Per constructor (node name for objects): count and self size, from a .heapsnapshot. */
function census(file: string): Map<string, { count: number; size: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const f = snap.snapshot.meta.node_fields as string[];
  const types = snap.snapshot.meta.node_types[0] as string[];
  const [T, N, S] = ['type', 'name', 'self_size'].map((k) => f.indexOf(k));
  const nodes = snap.nodes as number[];
  const strings = snap.strings as string[];
  const out = new Map<string, { count: number; size: number }>();
  for (let i = 0; i < nodes.length; i += f.length) {
    const type = types[nodes[i + T]];
    const key = type === 'object' || type === 'closure' ? `${type === 'closure' ? 'ƒ ' : ''}${strings[nodes[i + N]]}` : `(${type})`;
    const e = out.get(key) ?? { count: 0, size: 0 };
    e.count++;
    e.size += nodes[i + S];
    out.set(key, e);
  }
  return out;
}

async function main() {
  const server = await startBenchServer({
    PRESS_RENDER_CONCURRENCY: String(C),
    PRESS_BROWSER_RECYCLE_AFTER: String(DOCS * 10),
    PRESS_PROBE_DIR: dir,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${join(ROOT, 'bench/render-memory-probe.cjs')}`,
  });
  const rows: string[] = [];
  try {
    const one = await server.deploy('mem-one', onePage);
    if (!(await server.apiDoc(one)).ok) throw new Error(`first render failed:\n${server.output()}`);
    let done = 1;
    const marks = [...new Set([...AT, ...SNAP])].filter((x) => x <= DOCS).sort((a, b) => a - b);
    for (const mark of marks) {
      const loop = await closedLoop(C, mark - done, () => server.apiDoc(one));
      if (loop.failures) throw new Error(`${loop.failures} renders failed`);
      done = mark;
      const p = await probe(SNAP.includes(mark) ? `snap:${mark}` : `gc:${mark}`);
      const a = p.after;
      const row = `| ${mark} | ${p.rssMiB.toFixed(0)} | ${mib(a.rss)} | ${mib(a.heapTotal)} | ${mib(a.heapUsed)} | ${mib(a.external)} | ${mib(a.arrayBuffers)} |`;
      rows.push(row);
      process.stderr.write(`${row}\n`);
    }
  } finally {
    await server.close();
  }
  console.log(`\nRender process memory — ${machineLine()}; ${DOCS} one-page renders at c=${C}, one browser\n`);
  console.log('| renders | RSS before GC MiB | RSS after GC | heap total | heap used | external | ArrayBuffers |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
  if (SNAP.length === 2 && SNAP.every((s) => s <= DOCS)) {
    const [a, b] = SNAP.map((s) => census(join(dir, `${s}.heapsnapshot`)));
    const diff = [...b].map(([k, v]) => ({ k, count: v.count - (a.get(k)?.count ?? 0), size: v.size - (a.get(k)?.size ?? 0) }));
    const total = (m: Map<string, { size: number }>) => [...m.values()].reduce((s, v) => s + v.size, 0);
    console.log(`\nHeap snapshots at ${SNAP[0]} and ${SNAP[1]} renders: ${mib(total(a))} → ${mib(total(b))} MiB of objects. Largest growth by self size:\n`);
    console.log('| constructor | Δ count | Δ self size KiB | per render (count) |');
    console.log('|---|---|---|---|');
    for (const d of diff.sort((x, y) => y.size - x.size).slice(0, 25)) {
      console.log(`| ${d.k.replaceAll('|', '\\|').slice(0, 60)} | ${d.count} | ${(d.size / 1024).toFixed(0)} | ${(d.count / (SNAP[1] - SNAP[0])).toFixed(2)} |`);
    }
  }
  if (process.env.BENCH_MEM_KEEP === '1') console.log(`\nsnapshots kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

await main();
