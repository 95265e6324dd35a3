/**
 * Quota A/B under concurrency: 8 producers creating render jobs at once for ONE free-plan account on PostgreSQL, in
 * this checkout and another, one process, rounds alternating which goes first. A create = the domain's two quota
 * checks + enqueue with the job quota (a checkout from before the quota gate ignores it). `far`: the total stays more
 * than max_connections below the limit (the gate shared); `near`: every create within it (the gate exclusive).
 *
 *   PRESS_TEST_DATABASE_URL=postgres://… node --conditions=source --import tsx bench/quota-ab.ts <other checkout>
 */
import { fileURLToPath } from 'node:url';

const other = process.argv[2];
if (!other) throw new Error('usage: bench/quota-ab.ts <other checkout (its node_modules in place)>');
const trees = { other, this: fileURLToPath(new URL('..', import.meta.url)) };
const url = process.env.BENCH_DATABASE_URL || process.env.PRESS_TEST_DATABASE_URL;
if (!url) throw new Error('set BENCH_DATABASE_URL (or PRESS_TEST_DATABASE_URL) to a role that may CREATE DATABASE');
const PRODUCERS = 8;
async function load(root: string) {
  const store = await import(`${root}/bench/store.ts`);
  const usage = await import(`${root}/src/domain/usage.ts`);
  const policy = await import(`${root}/src/domain/policy.ts`);
  return { store, usage, policy };
}
const mods = { other: await load(trees.other), this: await load(trees.this) };
const rows: string[] = [];
for (const round of [1, 2, 3]) {
  for (const side of (round % 2 ? ['other', 'this'] : ['this', 'other']) as ('other' | 'this')[]) {
    const { store, usage, policy } = mods[side];
    const b = await store.postgresBackend(url);
    try {
      const db = b.producer.store;
      const deps = { db, clock: { now: () => Date.now() } };
      const margin = Number((await db.sql.one('SHOW max_connections')).max_connections);
      for (const mode of ['far', 'near'] as const) {
        const parents = await store.seed(db, 'free');
        const n = mode === 'far' ? 400 : margin - 4; // near: every create within max_connections of the limit
        const limit = mode === 'far' ? 1e15 : n + 1;
        const plan = { ...policy.PLANS.free, policy: { ...policy.PLANS.free.policy, maxRenderJobsPerBillPeriod: limit, maxRenderTimeMsPerBillPeriod: 1e15 } };
        let left = n;
        const t0 = performance.now();
        await Promise.all(Array.from({ length: PRODUCERS }, async () => {
          while (left-- > 0) {
            const q = await usage.checkQuota(deps, parents.accountId, 'render_jobs', plan);
            await usage.checkQuota(deps, parents.accountId, 'render_time_ms', plan);
            await db.renderJobs.enqueue(store.job(parents), store.PAYLOAD, q ?? undefined);
          }
        }));
        const s = (performance.now() - t0) / 1000;
        rows.push(`| ${round} | ${side} | ${mode} | ${n} | ${(n / s).toFixed(0)} |`);
        process.stderr.write(rows.at(-1) + '\n');
      }
    } finally {
      await b.close();
    }
  }
}
console.log('| round | checkout | total vs limit | creates | creates/s (8 producers, one account) |\n|---|---|---|---|---|\n' + rows.join('\n'));
