/**
 * The multi-process kill test (issue 6): 2 API nodes and 2 render workers as real `press-cloud serve` processes on
 * localhost, sharing one PostgreSQL database (fresh per run) and one S3 store. 200 render jobs go in round-robin
 * across the API nodes while one worker is killed with SIGKILL mid-render and restarted (and the other is restarted
 * gracefully with SIGTERM). Every job must end `succeeded` exactly once with one output object, every job's webhook
 * must arrive once (deduplicated by Press-Webhook-Id), nothing may stay queued or rendering, and every node must
 * answer /metrics and exit 0 on SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore } from '../../src/adapters/s3/s3-blob-store.js';
import { loadConfig } from '../../src/config.js';
import { webhookEventId } from '../../src/domain/webhooks.js';
import { PG_SKIP_REASON, PG_TEST_URL, createTestDatabase } from '../helpers/backends.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import type { TestServer } from '../helpers/server.js';
import { deployFiles } from '../helpers/uploads.js';
import { httpClient } from '../render/support.js';
import { Receiver } from '../webhooks/support.js';
import { ServeNode, freePort, metricValue, sleep } from './support.js';

const JOBS = 200;
const SUBMIT_CONCURRENCY = 20;
/** the whole run must end well inside the test timeout */
const TERMINAL_DEADLINE_MS = 150_000;
/** a webhook attempt lost with the killed worker is retried after its 60 s lease: leave room for that */
const WEBHOOK_DEADLINE_MS = 90_000;

/** One page, ready ~150 ms after its payload arrives: renders stay in flight long enough for the kill to hit them. */
const APP = [{
  path: 'index.html',
  content: `<!doctype html><html data-press-wait="manual"><head><meta charset="utf-8"><title>Cluster</title></head>
<body><h1>Cluster job</h1><p id="out">waiting</p><script>
pressCloud.payload().then((p) => setTimeout(() => {
  document.getElementById('out').textContent = 'CLUSTER JOB ' + ((p && p.n) ?? '?');
  pressCloud.ready();
}, 150));
</script></body></html>`,
}];

const log = (msg: string) => process.stderr.write(`  [cluster] ${msg}\n`);

if (!PG_TEST_URL) {
  describe('distributed cluster (2 API nodes + 2 workers, PostgreSQL + S3)', () => {
    it.skip(`skipped: ${PG_SKIP_REASON}`, () => {});
  });
}

describe.skipIf(!PG_TEST_URL)('distributed cluster (2 API nodes + 2 workers, PostgreSQL + S3)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>> | null = null;
  let s3: S3TestServer | null = null;
  let sql: pg.Client | null = null;
  const receiver = new Receiver();
  const nodes: ServeNode[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    s3 = await startS3Server({ bucket: 'press-cluster' });
    await receiver.start();
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  });

  afterAll(async () => {
    for (const n of nodes) await n.dispose().catch(() => {});
    await sql?.end().catch(() => {});
    await receiver.stop().catch(() => {});
    await s3?.stop().catch(() => {});
    await db?.drop();
  });

  it('renders 200 jobs exactly once while a worker is SIGKILLed mid-render and restarted', async () => {
    const t0 = Date.now();
    const [p1, p2, p3, p4] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const env = {
      ...s3!.env,
      DATABASE_URL: db!.url,
      // every node must share the secret key: secrets at rest and signed links
      PRESS_SECRET_KEY: randomBytes(32).toString('hex'),
      // no load balancer here: links point at the first API node
      PRESS_PUBLIC_URL: `http://127.0.0.1:${p1}`,
      PRESS_JOB_LEASE_SECONDS: '3',
      PRESS_WEBHOOK_ALLOW_PRIVATE: 'true',
      PRESS_RENDER_CONCURRENCY: '2',
      LOG_LEVEL: 'warn',
    };
    const api1 = new ServeNode('api1', 'api', p1, env);
    const api2 = new ServeNode('api2', 'api', p2, env);
    const w1 = new ServeNode('worker1', 'worker', p3, env);
    const w2 = new ServeNode('worker2', 'worker', p4, env);
    nodes.push(api1, api2, w1, w2);

    // the first API node migrates the empty database and bootstraps the admin key; the others start together
    await api1.start();
    for (let i = 0; i < 50 && !api1.bootstrapKey(); i++) await sleep(100);
    const key = api1.bootstrapKey();
    expect(key, api1.stderr).toBeTruthy();
    await Promise.all([api2.start(), w1.start(), w2.start()]);
    expect(api2.bootstrapKey()).toBeNull();
    const apis = [httpClient(api1.url, key!), httpClient(api2.url, key!)];
    log(`4 nodes up in ${Date.now() - t0} ms`);

    // deploy through one node, enable the webhook through the other
    const { deployId } = await deployFiles(apis[0] as unknown as TestServer, { createDeploy: { slug: 'cluster', name: 'Cluster test' } }, APP);
    // answers take 100 ms, so the killed worker's sender is likely to die with an attempt sent but not recorded
    receiver.behave('/hook', () => ({ status: 200, delayMs: 100 }));
    const hook = await apis[1].request('PATCH', `/v1/deploys/${deployId}/settings`, { json: { webhook: { enabled: true, url: `${receiver.url}/hook` } } });
    expect(hook.status, hook.text).toBe(200);

    // both workers' browsers up before the clock starts (readyz checks the renderer)
    for (const w of [w1, w2]) {
      for (let i = 0; ; i++) {
        const res = await fetch(`${w.url}/readyz`).catch(() => null);
        if (res?.ok) break;
        if (i > 300) throw new Error(`${w.name} not ready:\n${w.stderr}`);
        await sleep(100);
      }
    }

    const counts = async () => {
      const { rows } = await sql!.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM render_jobs GROUP BY status');
      return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)])) as Record<string, number>;
    };

    // ---- submit 200 jobs round-robin across the API nodes, 20 at a time, each with an Idempotency-Key ----
    const tSubmit = Date.now();
    const jobIds: string[] = new Array(JOBS);
    let next = 0;
    let submitRetries = 0;
    const submitMs: number[] = [];
    const submitter = async () => {
      while (next < JOBS) {
        const i = next++;
        for (let attempt = 1; ; attempt++) {
          const t = Date.now();
          const res = await apis[i % 2].request('POST', '/v1/render-jobs', {
            json: { deployId, payload: { n: i }, businessKey: `job-${i}` }, headers: { 'idempotency-key': `cluster-${i}` },
          }).catch((err: Error) => ({ status: 0, text: err.message, body: undefined }));
          if (res.status === 202) {
            submitMs.push(Date.now() - t);
            jobIds[i] = res.body.job.id;
            break;
          }
          // a retry with the same key never creates a second job
          if (attempt >= 5) throw new Error(`job ${i}: ${res.status} ${res.text}`);
          submitRetries++;
          await sleep(100 * attempt);
        }
      }
    };
    const submitting = Promise.all(Array.from({ length: SUBMIT_CONCURRENCY }, submitter));

    // ---- chaos: SIGKILL worker1 mid-render and restart it; then restart worker2 gracefully (SIGTERM) ----
    const waitActive = async (w: ServeNode, minDone: number) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const c = await counts();
        const m = await w.metrics().catch(() => null);
        const active = m ? metricValue(m.text, 'press_renders_active') ?? 0 : 0;
        if ((c.succeeded ?? 0) >= minDone && active >= 1) return { active, succeeded: c.succeeded ?? 0 };
        if (Date.now() > deadline) throw new Error(`${w.name} never had a render in flight (counts ${JSON.stringify(c)})`);
        await sleep(25);
      }
    };
    const atKill = await waitActive(w1, 30);
    const renderingBefore = (await sql!.query<{ id: string; lease_owner: string }>(`SELECT id, lease_owner FROM render_jobs WHERE status = 'rendering'`)).rows;
    await w1.kill();
    const tKill = Date.now();
    log(`SIGKILLed worker1 with ${atKill.active} render(s) in flight after ${atKill.succeeded} succeeded; ${renderingBefore.length} rendering cluster-wide`);
    await w1.start();
    log(`worker1 restarted in ${Date.now() - tKill} ms`);

    const atTerm = await waitActive(w2, atKill.succeeded + 30);
    const term = await w2.terminate(30_000);
    log(`SIGTERM worker2 with ${atTerm.active} render(s) in flight: exit ${term.code} after ${term.ms} ms`);
    expect(term, w2.stderr).toMatchObject({ code: 0 });
    await w2.start();

    await submitting;
    submitMs.sort((a, b) => a - b);
    log(`${JOBS} jobs submitted in ${Date.now() - tSubmit} ms (POST p50 ${submitMs[JOBS >> 1]} ms, max ${submitMs[JOBS - 1]} ms; ${submitRetries} retried submissions)`);
    expect(new Set(jobIds).size).toBe(JOBS);

    // ---- wait until every job is terminal ----
    const deadline = Date.now() + TERMINAL_DEADLINE_MS;
    let c = await counts();
    while ((c.succeeded ?? 0) + (c.failed ?? 0) + (c.canceled ?? 0) < JOBS) {
      if (Date.now() > deadline) throw new Error(`not all jobs terminal: ${JSON.stringify(c)}\nworker1:\n${w1.stderr}\nworker2:\n${w2.stderr}`);
      await sleep(200);
      c = await counts();
    }
    const tDone = Date.now();
    log(`all ${JOBS} terminal ${tDone - tSubmit} ms after the first submission: ${JSON.stringify(c)}`);

    // ---- idempotent replays across nodes: the same key on the other node answers the same job ----
    for (const i of [0, 1, 57, 199]) {
      const res = await apis[(i + 1) % 2].request('POST', '/v1/render-jobs', {
        json: { deployId, payload: { n: i }, businessKey: `job-${i}` }, headers: { 'idempotency-key': `cluster-${i}` },
      });
      expect(res.status, res.text).toBe(202);
      expect(res.body.job.id).toBe(jobIds[i]);
    }

    // ---- every job succeeded exactly once; nothing queued, rendering or retrying ----
    expect(c).toEqual({ succeeded: JOBS });
    const { rows: jobs } = await sql!.query<{ id: string; attempt: number; output_key: string }>(
      'SELECT id, attempt, output_key FROM render_jobs ORDER BY id',
    );
    expect(jobs.map((j) => j.id).sort()).toEqual([...jobIds].sort());
    const retried = jobs.filter((j) => j.attempt > 1);
    log(`re-rendered after the kill/restart: ${retried.length} job(s) (attempt > 1): ${retried.map((j) => `${j.id}#${j.attempt}`).join(', ')}`);
    expect(retried.length).toBeGreaterThanOrEqual(1); // the killed worker's in-flight render(s) ran again elsewhere
    for (const j of jobs) expect(j.attempt).toBeLessThanOrEqual(3);
    // the API agrees, on either node
    for (let i = 0; i < JOBS; i++) {
      const res = await apis[(i + 1) % 2].request('GET', `/v1/render-jobs/${jobIds[i]}`);
      expect(res.status).toBe(200);
      expect(res.body.job).toMatchObject({ status: 'succeeded', error: null, output: { pageCount: 1, expired: false } });
    }
    // render_jobs metered once per job, replays and retries included
    const usage = (await apis[1].request('GET', '/v1/usage')).body;
    expect(usage.usageMeters.find((m: any) => m.code === 'render_jobs').totalQuantity).toBe(JOBS);

    // ---- one output object per job in the bucket, none extra ----
    const blobs = new S3BlobStore(loadConfig(s3!.env).s3!);
    const outputs: string[] = [];
    for await (const o of blobs.list('outputs/')) outputs.push(o.key);
    expect(outputs.length).toBe(JOBS);
    expect(new Set(outputs)).toEqual(new Set(jobs.map((j) => j.output_key)));
    // and they download (through the node that did not create them)
    for (const i of [0, 101]) {
      const res = await fetch(`${apis[(i + 1) % 2] === apis[0] ? api1.url : api2.url}/v1/render-jobs/${jobIds[i]}/output`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).subarray(0, 5).toString()).toBe('%PDF-');
    }

    // ---- webhooks: exactly one event per job, a redelivery carries the same id ----
    // An attempt the killed worker's sender had sent but not yet recorded stays leased to it (60 s); then another
    // node sends it again, with the same Press-Webhook-Id. Wait until every event has its successful delivery.
    const expectedEvents = new Set(jobIds.map(webhookEventId));
    const received = () => new Set(receiver.on('/hook').map((r) => String(r.headers['press-webhook-id'])));
    const recorded = async () => Number((await sql!.query(`SELECT count(DISTINCT event_id) AS n FROM webhook_deliveries WHERE status = 'succeeded'`)).rows[0].n);
    const hookDeadline = Date.now() + WEBHOOK_DEADLINE_MS;
    while ((received().size < JOBS || (await recorded()) < JOBS) && Date.now() < hookDeadline) await sleep(250);
    log(`webhooks settled ${Date.now() - tDone} ms after the last job ended`);
    const byEvent = new Map<string, typeof receiver.requests>();
    for (const r of receiver.on('/hook')) {
      const id = String(r.headers['press-webhook-id']);
      byEvent.set(id, [...(byEvent.get(id) ?? []), r]);
    }
    expect(new Set(byEvent.keys())).toEqual(expectedEvents);
    let redeliveries = 0;
    for (const [id, reqs] of byEvent) {
      redeliveries += reqs.length - 1;
      for (const r of reqs) {
        expect(r.body.id).toBe(id);
        expect(webhookEventId(r.body.data.job.id)).toBe(id);
        expect(r.body.data.job.status).toBe('succeeded');
      }
    }
    const { rows: delivered } = await sql!.query<{ event_id: string; ok: string }>(
      `SELECT event_id, count(*) FILTER (WHERE status = 'succeeded') AS ok FROM webhook_deliveries GROUP BY event_id`,
    );
    expect(delivered.length).toBe(JOBS);
    expect(delivered.filter((d) => Number(d.ok) !== 1)).toEqual([]);
    log(`webhooks: ${byEvent.size} events, ${receiver.on('/hook').length} requests (${redeliveries} redeliveries with the same id)`);
    // the signed link in a webhook points at PRESS_PUBLIC_URL and works there
    const link = receiver.on('/hook')[0].body.data.output.download.url as string;
    expect(link.startsWith(env.PRESS_PUBLIC_URL)).toBe(true);
    expect((await fetch(link)).status).toBe(200);

    // ---- /metrics on every node; the queue gauge is the cluster's ----
    for (const n of nodes) {
      const m = await n.metrics();
      expect(m.status, n.name).toBe(200);
      expect(metricValue(m.text, 'press_render_jobs', { status: 'succeeded' }), n.name).toBe(JOBS);
      expect(metricValue(m.text, 'press_render_jobs', { status: 'rendering' }), n.name).toBe(0);
      expect(m.text).toContain(`role="${n.role}"`);
    }
    expect(metricValue((await api1.metrics()).text, 'press_http_request_duration_seconds_count', { route: '/v1/render-jobs', method: 'POST' })).toBeGreaterThan(0);

    // ---- graceful shutdown everywhere: exit 0 ----
    const exits = await Promise.all(nodes.map(async (n) => ({ name: n.name, ...(await n.terminate(30_000)) })));
    for (const e of exits) expect(e, nodes.find((n) => n.name === e.name)!.stderr).toMatchObject({ code: 0 });
    log(`SIGTERM: ${exits.map((e) => `${e.name} exit ${e.code} in ${e.ms} ms`).join(', ')}`);
    log(`wall time ${Date.now() - t0} ms (jobs ${JOBS}, SIGKILL 1, SIGTERM restarts 1, duplicates 0)`);
  }, 235_000);
});
