/**
 * Queue benchmark: the render-job repository (the queue) on its own, with no-op jobs (claim → succeed, no rendering), on SQLite (the
 * embedded store: one process, in-process wake-ups) and on PostgreSQL (a producer node and a worker node with their
 * own pools: the worker learns of new jobs only through LISTEN/NOTIFY; the 1 s safety-net poll of the real worker is
 * left out so a missed notification would show as a ~1000 ms latency).
 *
 *   npm run bench:queue                 # SQLite, plus PostgreSQL when BENCH_DATABASE_URL or PRESS_TEST_DATABASE_URL is set
 *   BENCH_QUICK=1 npm run bench:queue   # fewer jobs
 *
 * Rows:
 * - idle worker: one job at a time (every 20 ms) to an idle worker → enqueue→start latency is pure wake-up + claim.
 * - burst: N jobs enqueued by 8 concurrent producers while W workers drain them → jobs/s (first enqueue → last
 *   succeed); its latency includes the time a job waited behind the others.
 *
 * On PostgreSQL the database is created fresh with the server's default durability (synchronous_commit on), unlike
 * the test databases.
 */
import { cpus } from 'node:os';
import { PAYLOAD, backends, job, seed, type Backend, type Node } from './store.js';

const quick = process.env.BENCH_QUICK === '1';

interface Row {
  backend: string;
  scenario: string;
  jobs: number;
  workers: number;
  p50: number;
  p99: number;
  max: number;
  jobsPerSec: number;
}

const ms = (v: number) => (Number.isNaN(v) ? '–' : v.toFixed(1));
const pct = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * W worker loops on `node`: claim → succeed at once; when nothing is claimable, sleep until the queue's onWork fires
 * (no timer). `started` gets each job's claim time. Stops once `expected` jobs succeeded.
 */
function runWorkers(node: Node, workers: number, expected: number, started: Map<string, number>) {
  const waiting = new Set<() => void>();
  const wakeAll = () => {
    for (const w of [...waiting]) w();
    waiting.clear();
  };
  let signalled = false;
  const off = node.queue.onWork(() => {
    signalled = true;
    wakeAll();
  });
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const loop = async (n: number) => {
    const workerId = `bench_${n}`;
    while (done < expected) {
      signalled = false;
      const claimed = await node.queue.claim({ workerId, now: Date.now(), leaseMs: 30_000, accountLimit: async () => null });
      if (!claimed) {
        if (signalled) continue; // work arrived while we were claiming
        await new Promise<void>((r) => {
          if (done >= expected) r();
          else waiting.add(r);
        });
        continue;
      }
      started.set(claimed.id, performance.now());
      const ok = await node.queue.succeed(claimed.id, workerId, Date.now(), {
        outputKey: `outputs/${claimed.id}.pdf`, bytes: 1, pageCount: 1, outputExpiresAt: Date.now() + 86_400_000, renderTimeMs: 1, pdf: null,
      });
      if (!ok) throw new Error(`succeed lost job ${claimed.id}`);
      if (++done >= expected) {
        finish();
        wakeAll();
      }
    }
  };
  const loops = Array.from({ length: workers }, (_, i) => loop(i));
  return {
    finished,
    async stop() {
      await Promise.all(loops);
      off();
    },
  };
}

async function idleRow(b: Backend, parents: Awaited<ReturnType<typeof seed>>, n: number): Promise<Row> {
  const enqueued = new Map<string, number>();
  const started = new Map<string, number>();
  const w = runWorkers(b.worker, 1, n, started);
  await sleep(50);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const j = job(parents);
    enqueued.set(j.id, performance.now());
    await b.producer.queue.enqueue(j, PAYLOAD);
    await sleep(20);
  }
  await w.finished;
  const wall = performance.now() - t0;
  await w.stop();
  const lat = [...enqueued].map(([id, t]) => started.get(id)! - t).sort((a, b) => a - b);
  return { backend: b.name, scenario: 'idle worker, 1 job / 20 ms', jobs: n, workers: 1, p50: pct(lat, 0.5), p99: pct(lat, 0.99), max: lat[lat.length - 1], jobsPerSec: (n / wall) * 1000 };
}

/**
 * `n` jobs from 8 concurrent producers, drained by `workers` loops. `prefill`: all jobs are enqueued before the
 * workers start (drain rate alone); otherwise producers and workers run at once (end to end, latency incl. backlog).
 */
async function burstRow(b: Backend, parents: Awaited<ReturnType<typeof seed>>, n: number, workers: number, prefill = false): Promise<{ row: Row; enqueuePerSec: number }> {
  const enqueued = new Map<string, number>();
  const started = new Map<string, number>();
  let w = prefill ? null : runWorkers(b.worker, workers, n, started);
  await sleep(50);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < n) {
      next++;
      const j = job(parents);
      enqueued.set(j.id, performance.now());
      await b.producer.queue.enqueue(j, PAYLOAD);
    }
  }));
  const enqueueMs = performance.now() - t0;
  const t1 = performance.now();
  w ??= runWorkers(b.worker, workers, n, started);
  await w.finished;
  const wall = performance.now() - (prefill ? t1 : t0);
  await w.stop();
  const lat = [...enqueued].map(([id, t]) => started.get(id)! - t).sort((a, b) => a - b);
  const row: Row = prefill
    ? { backend: b.name, scenario: `drain ${n} queued jobs`, jobs: n, workers, p50: NaN, p99: NaN, max: NaN, jobsPerSec: (n / wall) * 1000 }
    : { backend: b.name, scenario: `burst of ${n} (8 producers) while draining`, jobs: n, workers, p50: pct(lat, 0.5), p99: pct(lat, 0.99), max: lat[lat.length - 1], jobsPerSec: (n / wall) * 1000 };
  return { row, enqueuePerSec: (n / enqueueMs) * 1000 };
}

async function main() {
  const idleJobs = quick ? 50 : 200;
  const burstJobs = quick ? 500 : 2000;
  const rows: Row[] = [];
  let pgVersion = '';
  for (const make of backends()) {
    const b = await make();
    try {
      if (b.producer.store.dialect.name === 'postgres') pgVersion = String((await b.producer.store.sql.one('SHOW server_version'))!.server_version);
      const parents = await seed(b.producer.store);
      // warm-up: connections, prepared plans, JIT
      await burstRow(b, parents, 50, 2);
      rows.push(await idleRow(b, parents, idleJobs));
      for (const workers of [1, 4]) {
        const { row, enqueuePerSec } = await burstRow(b, parents, burstJobs, workers, true);
        rows.push(row);
        if (workers === 1) rows.push({ backend: b.name, scenario: `enqueue ${burstJobs} jobs, 8 producers`, jobs: burstJobs, workers: 0, p50: NaN, p99: NaN, max: NaN, jobsPerSec: enqueuePerSec });
      }
      rows.push((await burstRow(b, parents, burstJobs, 4)).row);
      process.stderr.write(`${b.name}: done\n`);
    } finally {
      await b.close();
    }
  }
  const lines = [
    '| backend | scenario | jobs | workers | enqueue→start p50 ms | p99 ms | max ms | jobs/s |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.backend} | ${r.scenario} | ${r.jobs} | ${r.workers || '–'} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ${r.jobsPerSec.toFixed(0)} |`),
  ];
  console.log(`\nQueue benchmark — ${new Date().toISOString().slice(0, 10)}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}${pgVersion ? `, PostgreSQL ${pgVersion}` : ''}`);
  console.log('No-op jobs through the render-job repository: enqueue (job + payload + usage row) → claim → succeed (terminal bookkeeping). ' +
    'Latency = enqueue call start → claim returned on the worker; jobs/s = first enqueue → last succeed.\n');
  console.log(lines.join('\n'));
}

await main();
