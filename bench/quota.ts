/**
 * Quota benchmark: the store work of one render-job create on a plan with quotas, as the month fills. An account has
 * N usage records in the current bill period (half `render_jobs`, half `render_time_ms`: N/2 jobs' worth); each
 * create runs the domain's two quota checks (`render_jobs`, `render_time_ms`, as on the free plan) and then enqueues
 * the job (job + payload + usage). SQLite, plus PostgreSQL when BENCH_DATABASE_URL or PRESS_TEST_DATABASE_URL is set.
 *
 *   node --conditions=source --import tsx bench/quota.ts          # N = 0, 10 000, 100 000; 200 creates each
 *   BENCH_QUICK=1 node --conditions=source --import tsx bench/quota.ts
 */
import { cpus } from 'node:os';
import type { DomainDeps } from '../src/domain/context.js';
import { PLANS, billPeriod, type Plan } from '../src/domain/policy.js';
import { checkQuota } from '../src/domain/usage.js';
import { pct } from './support.js';
import { PAYLOAD, backends, job, seed } from './store.js';

const quick = process.env.BENCH_QUICK === '1';
const CREATES = quick ? 50 : 200;
const SIZES = [0, 10_000, 100_000];

/** the free plan's two metered limits, raised so that no create is refused: the checks run, none fails */
const plan: Plan = { ...PLANS.free, policy: { ...PLANS.free.policy, maxRenderJobsPerBillPeriod: 1e15, maxRenderTimeMsPerBillPeriod: 1e15 } };

const rows: string[] = [];
let pgVersion = '';
for (const make of backends()) {
  const b = await make();
  try {
    const store = b.producer.store;
    if (store.dialect.name === 'postgres') pgVersion = String((await store.sql.one('SHOW server_version'))!.server_version);
    const deps = { db: store, clock: { now: () => Date.now() } } as unknown as DomainDeps;
    for (const n of SIZES) {
      const parents = await seed(store, 'free');
      const { start } = billPeriod(Date.now());
      const span = Date.now() - start;
      const t0 = performance.now();
      // 1 000 records per transaction, as a busy month's creates and renders write them (one transaction updating
      // one total 50 000 times would measure PostgreSQL's row versions, not the month)
      for (let from = 0; from < n; from += 1000) {
        await store.transaction(async (tx) => {
          for (let i = from; i < Math.min(n, from + 1000); i++) {
            const at = start + Math.floor((i / n) * span);
            await tx.usage.record(parents.accountId, i % 2 ? 'render_time_ms' : 'render_jobs', i % 2 ? 50 : 1, at);
          }
        });
      }
      const fillMs = performance.now() - t0;
      const quota: number[] = [];
      const enqueue: number[] = [];
      for (let i = 0; i < CREATES + 10; i++) {
        const a = performance.now();
        const jobs = await checkQuota(deps, parents.accountId, 'render_jobs', plan);
        await checkQuota(deps, parents.accountId, 'render_time_ms', plan);
        const q = performance.now();
        // the job quota goes with the write, which checks it again in its transaction (far below the limit here)
        await store.renderJobs.enqueue(job(parents), PAYLOAD, jobs ?? undefined);
        const e = performance.now();
        if (i >= 10) (quota.push(q - a), enqueue.push(e - q)); // the first 10: warm-up
      }
      quota.sort((x, y) => x - y);
      enqueue.sort((x, y) => x - y);
      const f = (v: number) => v.toFixed(2);
      rows.push(`| ${b.name} | ${n.toLocaleString('en')} | ${f(pct(quota, 0.5))} / ${f(pct(quota, 0.99))} | ${f(pct(enqueue, 0.5))} / ${f(pct(enqueue, 0.99))} | ${(fillMs / 1000).toFixed(1)} |`);
      process.stderr.write(`${b.name}: ${n} done\n`);
    }
  } finally {
    await b.close();
  }
}
console.log(`\nQuota check — ${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}${pgVersion ? `, PostgreSQL ${pgVersion}` : ''}`);
console.log(`${CREATES} creates per row; quota = the create's two checks (render_jobs, render_time_ms); enqueue = job + payload + usage in one transaction, with the render_jobs quota checked again inside it.\n`);
console.log('| backend | usage records in the period | quota check p50 / p99 ms | enqueue p50 / p99 ms | filling the records, s |');
console.log('|---|---|---|---|---|');
console.log(rows.join('\n'));
