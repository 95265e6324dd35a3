import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { WEBHOOK_GATE } from '../../src/adapters/postgres/index.js';
import type { PdfRecord, RenderJobRecord, SucceededOutput } from '../../src/model/records.js';
import type { RenderJobRepository } from '../../src/ports/database.js';
import { billPeriod } from '../../src/domain/policy.js';
import { BACKENDS, fid, payload, renderJob, seedJobParents, T0, useBackend } from '../helpers/backends.js';
import { until } from '../helpers/wait.js';

/** the bill period the tests' jobs run in */
const PERIOD = billPeriod(T0).start;

type Parents = { accountId: string; deployId: string; versionId: string };

const unlimited = async () => null;
const LEASE = 30_000;

/** The RenderJobRepository port contract: every adapter must pass the same suite. */
describe.each(BACKENDS)('RenderJobRepository contract · %s', (_name, backend) => {
  if (!backend.available) {
    it.skip(backend.skipReason!, () => {});
    return;
  }
  const b = useBackend(backend);

  const enqueue = async (p: Parents, over: Partial<RenderJobRecord> = {}, q: RenderJobRepository = b.queue) => {
    const job = renderJob(p, over);
    await q.enqueue(job, payload(`{"job":"${job.id}"}`));
    return job;
  };
  const claim = (workerId = 'w1', now = T0 + 100, accountLimit: (a: string) => Promise<number | null> = unlimited, q: RenderJobRepository = b.queue) =>
    q.claim({ workerId, now, leaseMs: LEASE, accountLimit });
  const output = (over: Partial<SucceededOutput> = {}): SucceededOutput => ({
    outputKey: 'outputs/ab/x.pdf', bytes: 1234, pageCount: 2, outputExpiresAt: T0 + 86_400_000, renderTimeMs: 800, pdf: null, ...over,
  });
  const pdf = (job: RenderJobRecord, over: Partial<PdfRecord> = {}): PdfRecord => ({
    id: fid('pdf'), accountId: job.accountId, deployId: job.deployId, deployVersionId: job.deployVersionId, renderJobId: job.id,
    businessKey: job.businessKey, fileName: job.fileName, bytes: 5000, pageCount: 3, outputKey: `pdfs/x/${job.id}.pdf`, createdAt: T0 + 200, deletedAt: null, ...over,
  });

  describe('enqueue and reads', () => {
    it('stores the job and its payload, meters one render_jobs unit and wakes workers', async () => {
      const p = await seedJobParents(b.store);
      let woken = 0;
      const off = b.queue.onWork(() => woken++);
      const job = renderJob(p, { businessKey: 'order-1' });
      const body = Buffer.from([0, 1, 2, 255, 254, 0x7b]);
      await b.queue.enqueue(job, { mime: 'application/octet-stream', body });
      off();
      expect(woken).toBeGreaterThanOrEqual(1);
      expect(await b.queue.get(p.accountId, job.id)).toEqual(job);
      expect(await b.queue.get('acct_other', job.id)).toBeNull();
      expect(await b.queue.getById(job.id)).toEqual(job);
      expect(await b.queue.getById('rj_none')).toBeNull();
      const stored = (await b.queue.payload(job.id))!;
      expect(stored.mime).toBe('application/octet-stream');
      expect(Buffer.compare(Buffer.from(stored.body), body)).toBe(0);
      expect(await b.queue.payload('rj_none')).toBeNull();
      expect(await b.store.usage.periodTotal(p.accountId, 'render_jobs', PERIOD)).toBe(1);
      expect((await b.queue.get(p.accountId, job.id))!.webhookPending).toBe(false);
    });

    it('lists an account\'s jobs newest first (requestedAt desc, id desc), filtered, with limit + 1', async () => {
      const p = await seedJobParents(b.store);
      const other = await seedJobParents(b.store);
      const ids = ['rj_0', 'rj_1', 'rj_2', 'rj_3'];
      await enqueue(p, { id: ids[0], requestedAt: T0 });
      await enqueue(p, { id: ids[1], requestedAt: T0 + 1, businessKey: 'k' });
      await enqueue(p, { id: ids[2], requestedAt: T0 + 1 });
      await enqueue(p, { id: ids[3], requestedAt: T0 + 2, businessKey: 'k' });
      await enqueue(other, { requestedAt: T0 + 3 });
      expect((await b.queue.list(p.accountId, {}, { limit: 2 })).map((j) => j.id)).toEqual(['rj_3', 'rj_2', 'rj_1']);
      expect((await b.queue.list(p.accountId, {}, { limit: 10, after: { at: T0 + 1, id: 'rj_2' } })).map((j) => j.id)).toEqual(['rj_1', 'rj_0']);
      expect((await b.queue.list(p.accountId, { businessKey: 'k' }, { limit: 10 })).map((j) => j.id)).toEqual(['rj_3', 'rj_1']);
      expect((await b.queue.list(p.accountId, { deployId: p.deployId, status: 'queued' }, { limit: 10 })).map((j) => j.id)).toEqual(['rj_3', 'rj_2', 'rj_1', 'rj_0']);
      expect(await b.queue.list(p.accountId, { status: 'rendering' }, { limit: 10 })).toEqual([]);
      expect(await b.queue.list(p.accountId, { deployId: other.deployId }, { limit: 10 })).toEqual([]);
    });
  });

  describe('claim', () => {
    it('claims the oldest queued job: rendering, attempt + 1, leased to the worker; null when nothing is queued', async () => {
      const p = await seedJobParents(b.store);
      expect(await claim()).toBeNull();
      const older = await enqueue(p, { requestedAt: T0 });
      const newer = await enqueue(p, { requestedAt: T0 + 5 });
      const got = await claim('w1', T0 + 100);
      expect(got).toEqual({ ...older, status: 'rendering', attempt: 1, startedAt: T0 + 100, leaseOwner: 'w1', leaseExpiresAt: T0 + 100 + LEASE });
      expect(await b.queue.get(p.accountId, older.id)).toEqual(got);
      expect((await claim('w2', T0 + 101))!.id).toBe(newer.id);
      expect(await claim('w3', T0 + 102)).toBeNull();
    });

    it('skips accounts at their concurrency limit and takes the next account\'s job', async () => {
      const limited = await seedJobParents(b.store, { planKey: 'free' });
      const other = await seedJobParents(b.store);
      const l1 = await enqueue(limited, { requestedAt: T0 });
      const l2 = await enqueue(limited, { requestedAt: T0 + 1 });
      const o1 = await enqueue(other, { requestedAt: T0 + 2 });
      const asked: string[] = [];
      const limit = async (accountId: string) => {
        asked.push(accountId);
        return accountId === limited.accountId ? 1 : null;
      };
      expect((await claim('w1', T0 + 10, limit))!.id).toBe(l1.id);
      expect((await claim('w1', T0 + 11, limit))!.id).toBe(o1.id); // l2 waits: the account runs 1 of 1
      expect(await claim('w1', T0 + 12, limit)).toBeNull();
      expect(asked).toContain(limited.accountId);
      await b.queue.succeed(l1.id, 'w1', T0 + 20, output());
      expect((await claim('w1', T0 + 21, limit))!.id).toBe(l2.id);
    });

    it('enforces limits for accounts beyond the first batch of candidates', async () => {
      // 51 accounts, each running 1 of 1 and with one more queued, ahead of an account that has the same limit and is full too
      const parents: Parents[] = [];
      for (let i = 0; i < 52; i++) parents.push(await seedJobParents(b.store));
      for (const [i, p] of parents.entries()) {
        await enqueue(p, { requestedAt: T0 + i });
        expect((await claim('w0', T0 + 100 + i))!.accountId).toBe(p.accountId);
        await enqueue(p, { requestedAt: T0 + 1000 + i });
      }
      const one = async () => 1;
      expect(await claim('w1', T0 + 2000, one)).toBeNull();
      expect((await b.queue.countByStatus()).rendering).toBe(52);
      // the last account frees its slot: only its queued job may start
      const last = parents[51];
      const running = (await b.queue.list(last.accountId, { status: 'rendering' }, { limit: 1 }))[0];
      await b.queue.fail(running.id, 'w0', T0 + 2001, { code: 'render_timeout', message: 'x', renderTimeMs: 0 }, null);
      const next = await claim('w1', T0 + 2002, one);
      expect(next?.accountId).toBe(last.accountId);
      expect(await claim('w1', T0 + 2003, one)).toBeNull();
    });

    it('never hands one job to two workers claiming in parallel on different nodes', async () => {
      const p = await seedJobParents(b.store);
      const nodes = [b.queue, (await b.node()).queue, (await b.node()).queue];
      for (let i = 0; i < 20; i++) await enqueue(p, { requestedAt: T0 + i });
      const claimed: RenderJobRecord[] = [];
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (;;) {
            const job = await claim(`w${w}`, T0 + 100, unlimited, nodes[w % 3]);
            if (!job) return;
            claimed.push(job);
          }
        }),
      );
      expect(claimed).toHaveLength(20);
      expect(new Set(claimed.map((j) => j.id)).size).toBe(20);
      expect((await b.queue.countByStatus()).rendering).toBe(20);
    });

    it('keeps an account within its limit when two nodes (separate pools) claim in parallel', async () => {
      const q2 = (await b.node()).queue;
      // several rounds: the race this guards against does not show on every run
      for (let round = 0; round < 3; round++) {
        const limited = await seedJobParents(b.store);
        const free = await seedJobParents(b.store);
        for (let i = 0; i < 12; i++) await enqueue(limited, { requestedAt: T0 + i });
        for (let i = 0; i < 4; i++) await enqueue(free, { requestedAt: T0 + 100 + i });
        const limit = async (accountId: string) => (accountId === limited.accountId ? 3 : null);
        const claimed: RenderJobRecord[] = [];
        await Promise.all(
          Array.from({ length: 10 }, async (_, w) => {
            for (;;) {
              const job = await claim(`w${w}`, T0 + 1000, limit, w % 2 ? q2 : b.queue);
              if (!job) return;
              claimed.push(job);
            }
          }),
        );
        expect(claimed.filter((j) => j.accountId === limited.accountId)).toHaveLength(3);
        expect(claimed.filter((j) => j.accountId === free.accountId)).toHaveLength(4);
        expect(new Set(claimed.map((j) => j.id)).size).toBe(claimed.length);
        expect(await b.queue.list(limited.accountId, { status: 'rendering' }, { limit: 100 })).toHaveLength(3);
        await b.queue.cancelForDeploy(limited.deployId, T0 + 2000); // clear the stage for the next round
      }
    });
  });

  describe('leases', () => {
    it('extends a lease only for the worker holding it', async () => {
      const p = await seedJobParents(b.store);
      const job = await enqueue(p);
      await claim('w1', T0 + 100);
      expect(await b.queue.heartbeat(job.id, 'w1', T0 + 90_000)).toBe(true);
      expect((await b.queue.getById(job.id))!.leaseExpiresAt).toBe(T0 + 90_000);
      expect(await b.queue.heartbeat(job.id, 'w2', T0 + 99_000)).toBe(false);
      expect(await b.queue.heartbeat('rj_none', 'w1', T0 + 99_000)).toBe(false);
    });

    it('reclaims lapsed leases: a retry when attempts remain, failed (terminal) when not; the lost worker can no longer finish', async () => {
      const p = await seedJobParents(b.store, { webhook: true });
      const retried = await enqueue(p, { requestedAt: T0, maxAttempts: 3 });
      const exhausted = await enqueue(p, { requestedAt: T0 + 1, maxAttempts: 1 });
      const alive = await enqueue(p, { requestedAt: T0 + 2 });
      await claim('w1', T0 + 100);
      await claim('w1', T0 + 100);
      await claim('w2', T0 + 200);
      const terminal: string[] = [];
      const off = b.queue.onTerminal((id) => terminal.push(id));
      const lapse = T0 + 100 + LEASE;
      expect(await b.queue.reclaimExpired(lapse, () => 0)).toBe(0); // not yet: the lease ends at `lapse`
      const seen: string[] = [];
      expect(await b.queue.reclaimExpired(lapse + 1, (j) => (seen.push(j.id), lapse + 5000))).toBe(2);
      off();
      expect(seen).toEqual([retried.id]);
      expect(await b.queue.getById(retried.id)).toMatchObject({
        status: 'retry_scheduled', nextAttemptAt: lapse + 5000, leaseOwner: null, leaseExpiresAt: null, errorCode: 'render_internal_error', attempt: 1,
      });
      expect(await b.queue.payload(retried.id)).not.toBeNull();
      expect(await b.queue.getById(exhausted.id)).toMatchObject({ status: 'failed', finishedAt: lapse + 1, errorCode: 'render_internal_error', webhookPending: true });
      expect((await b.queue.getById(exhausted.id))!.errorMessage).toContain('attempt 1 of 1');
      expect(await b.queue.payload(exhausted.id)).toBeNull();
      expect(terminal).toEqual([exhausted.id]);
      expect((await b.queue.getById(alive.id))!.status).toBe('rendering');
      expect(await b.queue.heartbeat(retried.id, 'w1', lapse + 60_000)).toBe(false);
      expect(await b.queue.succeed(retried.id, 'w1', lapse + 2, output())).toBe(false);
      expect(await b.queue.fail(exhausted.id, 'w1', lapse + 2, { code: 'x', message: 'x', renderTimeMs: 1 }, null)).toBe(false);
    });

    it('promotes due retries to queued and wakes workers; the next claim is attempt 2', async () => {
      const p = await seedJobParents(b.store);
      const job = await enqueue(p);
      await claim('w1', T0 + 100);
      expect(await b.queue.fail(job.id, 'w1', T0 + 200, { code: 'render_timeout', message: 'slow', renderTimeMs: 500 }, T0 + 2200)).toBe(true);
      expect(await b.queue.getById(job.id)).toMatchObject({ status: 'retry_scheduled', nextAttemptAt: T0 + 2200, errorCode: 'render_timeout', renderTimeMs: 500, leaseOwner: null });
      expect(await b.queue.payload(job.id)).not.toBeNull(); // kept for the retry
      expect(await b.store.usage.periodTotal(p.accountId, 'render_time_ms', PERIOD)).toBe(500);
      expect(await claim('w1', T0 + 300)).toBeNull();
      expect(await b.queue.promoteDue(T0 + 2199)).toBe(0);
      let woken = 0;
      const off = b.queue.onWork(() => woken++);
      expect(await b.queue.promoteDue(T0 + 2200)).toBe(1);
      off();
      expect(woken).toBeGreaterThanOrEqual(1);
      expect(await b.queue.promoteDue(T0 + 2200)).toBe(0);
      expect(await claim('w2', T0 + 2300)).toMatchObject({ id: job.id, attempt: 2, startedAt: T0 + 100, leaseOwner: 'w2', nextAttemptAt: null });
    });

    it('reports the earliest retry or lease end to wake up for', async () => {
      const p = await seedJobParents(b.store);
      expect(await b.queue.nextWakeAt()).toBeNull();
      const a = await enqueue(p, { requestedAt: T0 });
      await enqueue(p, { requestedAt: T0 + 1 });
      await claim('w1', T0 + 100); // lease until T0 + 100 + LEASE
      expect(await b.queue.nextWakeAt()).toBe(T0 + 100 + LEASE);
      await claim('w1', T0 + 200);
      await b.queue.fail(a.id, 'w1', T0 + 300, { code: 'x', message: 'x', renderTimeMs: 0 }, T0 + 5000);
      expect(await b.queue.nextWakeAt()).toBe(T0 + 5000);
    });
  });

  describe('terminal transitions', () => {
    it('succeed (transient): output recorded, payload deleted, render time metered, webhook pending, onTerminal fired', async () => {
      const p = await seedJobParents(b.store, { webhook: true });
      const job = await enqueue(p);
      await claim('w1', T0 + 100);
      const terminal: string[] = [];
      const off = b.queue.onTerminal((id) => terminal.push(id));
      expect(await b.queue.succeed(job.id, 'w2', T0 + 500, output())).toBe(false); // not its lease
      expect(await b.queue.succeed(job.id, 'w1', T0 + 500, output())).toBe(true);
      off();
      expect(terminal).toEqual([job.id]);
      expect(await b.queue.getById(job.id)).toEqual({
        ...job, status: 'succeeded', attempt: 1, startedAt: T0 + 100, finishedAt: T0 + 500, outputKey: 'outputs/ab/x.pdf', outputBytes: 1234,
        outputPageCount: 2, outputExpiresAt: T0 + 86_400_000, renderTimeMs: 800, webhookPending: true,
      });
      expect(await b.queue.payload(job.id)).toBeNull();
      expect(await b.store.usage.periodTotal(p.accountId, 'render_time_ms', PERIOD)).toBe(800);
      expect(await b.queue.succeed(job.id, 'w1', T0 + 600, output())).toBe(false); // already done
      expect(await b.queue.outputBytes(p.accountId)).toEqual({ managedPdfStorageBytes: 0, renderOutputStorageBytes: 1234 });
    });

    it('succeed (managed): the PDF record is created in the same step; PDFs are listed and soft-deleted', async () => {
      const p = await seedJobParents(b.store);
      const job = await enqueue(p, { outputMode: 'managed', businessKey: 'inv-7' });
      await claim('w1', T0 + 100);
      const record = pdf(job, { bytes: 6_000_000_000 });
      expect(await b.queue.succeed(job.id, 'w1', T0 + 500, output({ outputExpiresAt: null, pdf: record }))).toBe(true);
      expect(await b.queue.getById(job.id)).toMatchObject({ status: 'succeeded', outputKey: null, pdfId: record.id, outputExpiresAt: null });
      expect(await b.store.pdfs.get(p.accountId, record.id)).toEqual(record);
      expect(await b.store.pdfs.get('acct_other', record.id)).toBeNull();
      expect(await b.queue.outputBytes(p.accountId)).toEqual({ managedPdfStorageBytes: 6_000_000_000, renderOutputStorageBytes: 0 });
      expect(await b.store.pdfs.markDeleted(p.accountId, record.id, T0 + 900)).toBe(true);
      expect(await b.store.pdfs.markDeleted(p.accountId, record.id, T0 + 901)).toBe(false);
      expect(await b.store.pdfs.get(p.accountId, record.id)).toBeNull();
      expect(await b.queue.outputBytes(p.accountId)).toEqual({ managedPdfStorageBytes: 0, renderOutputStorageBytes: 0 });
    });

    it('lists live PDFs newest first, by deploy, with limit + 1', async () => {
      const p = await seedJobParents(b.store);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const job = await enqueue(p, { outputMode: 'managed', requestedAt: T0 + i });
        await claim('w1', T0 + 100);
        const rec = pdf(job, { id: `pdf_${i}`, createdAt: T0 + 200 + i });
        await b.queue.succeed(job.id, 'w1', T0 + 300, output({ pdf: rec, outputExpiresAt: null }));
        ids.push(rec.id);
      }
      expect((await b.store.pdfs.list(p.accountId, {}, { limit: 1 })).map((x) => x.id)).toEqual(['pdf_2', 'pdf_1']);
      expect((await b.store.pdfs.list(p.accountId, { deployId: p.deployId }, { limit: 5, after: { at: T0 + 201, id: 'pdf_1' } })).map((x) => x.id)).toEqual(['pdf_0']);
      expect(await b.store.pdfs.list(p.accountId, { deployId: 'dpl_other' }, { limit: 5 })).toEqual([]);
      await b.store.pdfs.markDeleted(p.accountId, 'pdf_2', T0 + 400);
      expect((await b.store.pdfs.list(p.accountId, {}, { limit: 5 })).map((x) => x.id)).toEqual(['pdf_1', 'pdf_0']);
    });

    it('fail without a retry: failed, payload deleted, render time metered, webhook pending', async () => {
      const p = await seedJobParents(b.store, { webhook: true });
      const job = await enqueue(p);
      await claim('w1', T0 + 100);
      expect(await b.queue.fail(job.id, 'w2', T0 + 200, { code: 'render_failed', message: 'boom', renderTimeMs: 70 }, null)).toBe(false);
      expect(await b.queue.fail(job.id, 'w1', T0 + 200, { code: 'render_failed', message: 'boom', renderTimeMs: 70 }, null)).toBe(true);
      expect(await b.queue.getById(job.id)).toMatchObject({
        status: 'failed', finishedAt: T0 + 200, errorCode: 'render_failed', errorMessage: 'boom', renderTimeMs: 70, webhookPending: true, leaseOwner: null,
      });
      expect(await b.queue.payload(job.id)).toBeNull();
      expect(await b.store.usage.periodTotal(p.accountId, 'render_time_ms', PERIOD)).toBe(70);
    });

    it('cancels queued, retry-scheduled and rendering jobs once; a canceled render cannot succeed later', async () => {
      const p = await seedJobParents(b.store, { webhook: true });
      const queued = await enqueue(p, { requestedAt: T0 });
      const rendering = await enqueue(p, { requestedAt: T0 - 1 });
      await claim('w1', T0 + 100);
      const terminal: string[] = [];
      const off = b.queue.onTerminal((id) => terminal.push(id));
      const r1 = await b.queue.cancel(p.accountId, rendering.id, T0 + 150);
      expect(r1.canceled).toBe(true);
      expect(r1.job).toMatchObject({ id: rendering.id, status: 'canceled', finishedAt: T0 + 150, leaseOwner: null, webhookPending: true });
      expect(await b.queue.payload(rendering.id)).toBeNull();
      expect(await b.queue.succeed(rendering.id, 'w1', T0 + 200, output())).toBe(false);
      expect(await b.queue.heartbeat(rendering.id, 'w1', T0 + 90_000)).toBe(false);
      expect((await b.queue.getById(rendering.id))!.status).toBe('canceled');
      const r2 = await b.queue.cancel(p.accountId, queued.id, T0 + 160);
      expect(r2).toMatchObject({ canceled: true, job: { status: 'canceled' } });
      expect(await b.queue.cancel(p.accountId, queued.id, T0 + 170)).toMatchObject({ canceled: false, job: { status: 'canceled', finishedAt: T0 + 160 } });
      expect(await b.queue.cancel('acct_other', queued.id, T0 + 170)).toEqual({ canceled: false, job: null });
      expect(await b.queue.cancel(p.accountId, 'rj_none', T0 + 170)).toEqual({ canceled: false, job: null });
      off();
      expect(terminal).toEqual([rendering.id, queued.id]);
      expect(await b.queue.outputBytes(p.accountId)).toEqual({ managedPdfStorageBytes: 0, renderOutputStorageBytes: 0 });
    });

    it('cancels every unfinished job of a deploy and nothing else', async () => {
      const p = await seedJobParents(b.store, { webhook: true });
      const other = await seedJobParents(b.store);
      const jobs = [await enqueue(p, { requestedAt: T0 }), await enqueue(p, { requestedAt: T0 + 1 }), await enqueue(p, { requestedAt: T0 + 2 }), await enqueue(p, { requestedAt: T0 + 3 })];
      const untouched = await enqueue(other, { requestedAt: T0 + 10 });
      await claim('w1', T0 + 100); // jobs[0] rendering
      await claim('w1', T0 + 100); // jobs[1] → retry_scheduled
      await b.queue.fail(jobs[1].id, 'w1', T0 + 101, { code: 'x', message: 'x', renderTimeMs: 0 }, T0 + 5000);
      await claim('w1', T0 + 102); // jobs[2] → succeeded
      await b.queue.succeed(jobs[2].id, 'w1', T0 + 103, output());
      // jobs[3] stays queued
      const terminal: string[] = [];
      const off = b.queue.onTerminal((id) => terminal.push(id));
      expect(await b.queue.cancelForDeploy(p.deployId, T0 + 200)).toBe(3);
      off();
      expect(terminal.sort()).toEqual([jobs[0].id, jobs[1].id, jobs[3].id].sort());
      for (const j of [jobs[0], jobs[1], jobs[3]]) {
        expect(await b.queue.getById(j.id)).toMatchObject({ status: 'canceled', finishedAt: T0 + 200, webhookPending: true });
        expect(await b.queue.payload(j.id)).toBeNull();
      }
      expect((await b.queue.getById(jobs[2].id))!.status).toBe('succeeded');
      expect((await b.queue.getById(untouched.id))!.status).not.toBe('canceled');
      expect(await b.queue.cancelForDeploy(p.deployId, T0 + 300)).toBe(0);
    });

    it('deletes terminal jobs only; an unfinished job keeps its row and payload', async () => {
      const p = await seedJobParents(b.store);
      const done = await enqueue(p, { requestedAt: T0 });
      const waiting = await enqueue(p, { requestedAt: T0 + 1 });
      await claim('w1', T0 + 100);
      await b.queue.fail(done.id, 'w1', T0 + 200, { code: 'x', message: 'x', renderTimeMs: 0 }, null);
      expect(await b.queue.delete('acct_other', done.id)).toBe(false);
      expect(await b.queue.delete(p.accountId, waiting.id)).toBe(false);
      expect(await b.queue.payload(waiting.id)).not.toBeNull();
      expect(await b.queue.delete(p.accountId, done.id)).toBe(true);
      expect(await b.queue.getById(done.id)).toBeNull();
      expect(await b.queue.delete(p.accountId, done.id)).toBe(false);
    });
  });

  describe('outputs, webhooks, counts', () => {
    it('finds expired transient outputs and marks outputs deleted once', async () => {
      const p = await seedJobParents(b.store);
      const a = await enqueue(p, { requestedAt: T0 });
      const c = await enqueue(p, { requestedAt: T0 + 1 });
      await claim('w1', T0 + 100);
      await claim('w1', T0 + 100);
      await b.queue.succeed(a.id, 'w1', T0 + 200, output({ outputExpiresAt: T0 + 1000, bytes: 10 }));
      await b.queue.succeed(c.id, 'w1', T0 + 200, output({ outputExpiresAt: T0 + 5000, bytes: 20 }));
      expect(await b.queue.expiredOutputs(T0 + 999, 10)).toEqual([]);
      expect((await b.queue.expiredOutputs(T0 + 1000, 10)).map((j) => j.id)).toEqual([a.id]);
      expect(await b.queue.expiredOutputs(T0 + 9000, 1)).toHaveLength(1);
      expect(await b.queue.outputBytes(p.accountId)).toEqual({ managedPdfStorageBytes: 0, renderOutputStorageBytes: 30 });
      await b.queue.markOutputDeleted(a.id, T0 + 1001);
      await b.queue.markOutputDeleted(a.id, T0 + 1002);
      expect((await b.queue.getById(a.id))!.outputDeletedAt).toBe(T0 + 1001);
      expect((await b.queue.expiredOutputs(T0 + 9000, 10)).map((j) => j.id)).toEqual([c.id]);
      expect(await b.queue.outputBytes(p.accountId)).toEqual({ managedPdfStorageBytes: 0, renderOutputStorageBytes: 20 });
    });

    it('lists jobs whose webhook is pending in finish order and clears the flag', async () => {
      const p = await seedJobParents(b.store, { webhook: true });
      const first = await enqueue(p, { requestedAt: T0 });
      const second = await enqueue(p, { requestedAt: T0 + 1 });
      await enqueue(p, { requestedAt: T0 + 2 });
      expect(await b.queue.pendingWebhooks(10)).toEqual([]);
      await b.queue.cancel(p.accountId, second.id, T0 + 10);
      await b.queue.cancel(p.accountId, first.id, T0 + 20);
      expect((await b.queue.pendingWebhooks(10)).map((j) => j.id)).toEqual([second.id, first.id]);
      expect((await b.queue.pendingWebhooks(1)).map((j) => j.id)).toEqual([second.id]);
      await b.queue.clearWebhookPending(second.id);
      expect((await b.queue.getById(second.id))!.webhookPending).toBe(false);
      expect((await b.queue.pendingWebhooks(10)).map((j) => j.id)).toEqual([first.id]);
    });

    it('a job of a deploy without a webhook leaves nothing pending, however it ends, and says so to its listeners', async () => {
      const p = await seedJobParents(b.store);
      const succeeded = await enqueue(p, { requestedAt: T0 });
      const failed = await enqueue(p, { requestedAt: T0 + 1 });
      const lapsed = await enqueue(p, { requestedAt: T0 + 2, maxAttempts: 1 });
      const canceled = await enqueue(p, { requestedAt: T0 + 3 });
      const ofDeploy = await enqueue(p, { requestedAt: T0 + 4 });
      for (let i = 0; i < 3; i++) await claim('w1', T0 + 100);
      const ended: [string, boolean][] = [];
      const off = b.queue.onTerminal((id, webhookPending) => ended.push([id, webhookPending]));
      await b.queue.succeed(succeeded.id, 'w1', T0 + 200, output());
      await b.queue.fail(failed.id, 'w1', T0 + 200, { code: 'render_failed', message: 'boom', renderTimeMs: 5 }, null);
      expect(await b.queue.reclaimExpired(T0 + 100 + LEASE + 1, () => 0)).toBe(1);
      await b.queue.cancel(p.accountId, canceled.id, T0 + 300);
      await b.queue.cancelForDeploy(p.deployId, T0 + 400);
      off();
      const all = [succeeded, failed, lapsed, canceled, ofDeploy].map((j) => j.id);
      expect(ended.sort()).toEqual(all.map((id) => [id, false]).sort());
      expect(await b.queue.pendingWebhooks(10)).toEqual([]);
      for (const id of all) expect((await b.queue.getById(id))!.webhookPending).toBe(false);
    });

    it('a webhook turned off, or its deploy deleted, before the job ends: nothing pending; turned on: pending', async () => {
      const p = await seedJobParents(b.store, { webhook: true });
      const [off, on, deleted] = [await enqueue(p, { requestedAt: T0 }), await enqueue(p, { requestedAt: T0 + 1 }), await enqueue(p, { requestedAt: T0 + 2 })];
      await b.store.deploys.update(p.accountId, p.deployId, { webhookEnabled: false });
      await b.queue.cancel(p.accountId, off.id, T0 + 10);
      await b.store.deploys.update(p.accountId, p.deployId, { webhookEnabled: true });
      await b.queue.cancel(p.accountId, on.id, T0 + 11);
      await b.store.deploys.markDeleted(p.accountId, p.deployId, T0 + 12);
      await b.queue.cancelForDeploy(p.deployId, T0 + 13);
      expect((await b.queue.pendingWebhooks(10)).map((j) => j.id)).toEqual([on.id]);
      expect((await b.queue.getById(deleted.id))!.status).toBe('canceled');
    });

    it('a webhook turned on while a job ends is never missed: the job ends before the change or sees it', async () => {
      const p = await seedJobParents(b.store);
      const job = await enqueue(p);
      await claim('w1', T0 + 100);
      const worker = backend.crossNodeEvents ? await b.node() : b; // PostgreSQL: another pool, as a worker node
      let ended: Promise<boolean> | null = null;
      await b.store.transaction(async (tx) => {
        await tx.deploys.update(p.accountId, p.deployId, { webhookEnabled: true, webhookUrl: 'https://hooks.example/press' });
        // the render finishes while the settings change is not committed yet: it must wait for it, not read around it
        ended = worker.queue.succeed(job.id, 'w1', T0 + 200, output());
        await new Promise((r) => setTimeout(r, 150));
      });
      expect(await ended!).toBe(true);
      expect((await b.queue.pendingWebhooks(10)).map((j) => j.id)).toEqual([job.id]);
    });

    it.runIf(backend.name === 'postgres')('a reclaim takes the webhook gate before the row: it cannot deadlock with a cancel and a settings change', async () => {
      // The cycle it used to allow: a cancel holds its deploy's gate (shared) and wants the job's row; a settings
      // change waits for the gate (exclusive), queued; a reclaim that locked the row first waits for the gate behind
      // the change. PostgreSQL found it after deadlock_timeout and aborted one of them. Reclaiming now takes the gate
      // first, so the cancel's row is free.
      const p = await seedJobParents(b.store, { webhook: true });
      const job = await enqueue(p, { maxAttempts: 1 });
      await claim('w1', T0 + 100);
      const cancel = new pg.Client({ connectionString: b.url! });
      const change = new pg.Client({ connectionString: b.url! });
      const watcher = new pg.Client({ connectionString: b.url! });
      await Promise.all([cancel.connect(), change.connect(), watcher.connect()]);
      const waitingForGate = async () =>
        Number((await watcher.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`)).rows[0].n);
      try {
        await cancel.query('BEGIN');
        await cancel.query(`SELECT id${WEBHOOK_GATE.shared} FROM render_jobs WHERE id = $1`, [job.id]); // the cancel's first statement
        await change.query('BEGIN');
        const changed = change.query(WEBHOOK_GATE.exclusive.replace('?', '$1'), [p.deployId]);
        await until(async () => (await waitingForGate()) === 1, 5000);
        const reclaimed = b.queue.reclaimExpired(T0 + 100 + LEASE + 1, () => 0);
        await until(async () => (await waitingForGate()) === 2, 5000);
        // before the fix this waited for the row the reclaim held (and PostgreSQL broke the cycle after 1 s)
        await cancel.query(`SET LOCAL lock_timeout = '500ms'`);
        const canceled = await cancel.query(`UPDATE render_jobs SET status = 'canceled', finished_at = $2 WHERE id = $1 AND status = 'rendering'`, [job.id, T0 + 300]);
        expect(canceled.rowCount).toBe(1);
        await cancel.query('COMMIT');
        await changed;
        await change.query('COMMIT');
        expect(await reclaimed).toBe(0); // the job is no longer rendering when the reclaim gets its gate
        expect((await b.queue.getById(job.id))!.status).toBe('canceled');
      } finally {
        await Promise.all([cancel.end(), change.end(), watcher.end()]);
      }
    });

    it('counts jobs by status', async () => {
      const p = await seedJobParents(b.store);
      expect(await b.queue.countByStatus()).toEqual({ queued: 0, rendering: 0, retry_scheduled: 0, succeeded: 0, failed: 0, canceled: 0 });
      const j = [await enqueue(p, { requestedAt: T0 }), await enqueue(p, { requestedAt: T0 + 1 }), await enqueue(p, { requestedAt: T0 + 2 })];
      await claim('w1', T0 + 100);
      await b.queue.cancel(p.accountId, j[2].id, T0 + 100);
      expect(await b.queue.countByStatus()).toEqual({ queued: 1, rendering: 1, retry_scheduled: 0, succeeded: 0, failed: 0, canceled: 1 });
    });
  });

  describe('wake-ups across nodes', () => {
    it.runIf(backend.crossNodeEvents)('an enqueue on one node wakes an idle worker on another within milliseconds', async () => {
      const p = await seedJobParents(b.store);
      const other = await b.node();
      let woke = 0;
      other.queue.onWork(() => woke++);
      const started = Date.now();
      await enqueue(p);
      await until(() => woke > 0, 2000);
      expect(Date.now() - started).toBeLessThan(1000);
      const job = await other.queue.claim({ workerId: 'w9', now: T0 + 100, leaseMs: LEASE, accountLimit: unlimited });
      expect(job).not.toBeNull();
    });

    it.runIf(backend.crossNodeEvents)('terminal transitions and promotions on one node reach the other node\'s listeners once', async () => {
      const p = await seedJobParents(b.store);
      const other = await b.node();
      const terminal: string[] = [];
      let work = 0;
      other.queue.onTerminal((id) => terminal.push(id));
      const a = await enqueue(p, { requestedAt: T0 });
      const c = await enqueue(p, { requestedAt: T0 + 1 });
      await claim('w1', T0 + 100);
      await b.queue.fail(a.id, 'w1', T0 + 101, { code: 'x', message: 'x', renderTimeMs: 0 }, T0 + 200);
      await new Promise((r) => setTimeout(r, 100)); // let that retry's own 'work' notification pass first
      other.queue.onWork(() => work++);
      await b.queue.promoteDue(T0 + 200);
      await until(() => work > 0);
      await b.queue.cancel(p.accountId, c.id, T0 + 300);
      await until(() => terminal.length === 1);
      expect(terminal).toEqual([c.id]);
      // this node's own listeners hear its transitions once, not again through its LISTEN echo
      const own: string[] = [];
      b.queue.onTerminal((id) => own.push(id));
      await b.queue.cancel(p.accountId, a.id, T0 + 400);
      await until(() => terminal.length === 2);
      await new Promise((r) => setTimeout(r, 100));
      expect(own).toEqual([a.id]);
      expect(terminal).toEqual([c.id, a.id]);
    });

    it.runIf(backend.crossNodeEvents)('the other node hears whether a job that ended left a webhook pending', async () => {
      const quiet = await seedJobParents(b.store);
      const hooked = await seedJobParents(b.store, { webhook: true });
      const other = await b.node();
      const heard: [string, boolean][] = [];
      other.queue.onTerminal((id, webhookPending) => heard.push([id, webhookPending]));
      const a = await enqueue(quiet, { requestedAt: T0 });
      const c = await enqueue(hooked, { requestedAt: T0 + 1 });
      await claim('w1', T0 + 100);
      await b.queue.succeed(a.id, 'w1', T0 + 200, output());
      await b.queue.cancel(hooked.accountId, c.id, T0 + 300);
      await until(() => heard.length === 2);
      expect(heard).toEqual([[a.id, false], [c.id, true]]);
    });

    it.runIf(backend.name === 'postgres')('re-LISTENs after the listening connection is killed and tells workers to look again', async () => {
      const p = await seedJobParents(b.store);
      const other = await b.node();
      let woke = 0;
      other.queue.onWork(() => woke++);
      const pg = (await import('pg')).default;
      const admin = new pg.Client({ connectionString: b.url! });
      await admin.connect();
      try {
        const killed = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'press-cloud-listener' AND datname = current_database()`,
        );
        expect(killed.rowCount).toBeGreaterThanOrEqual(2); // both nodes' listeners
        await until(() => woke > 0, 5000); // the reconnect itself wakes the worker (notifications may have been missed)
        await until(() => (other.store as unknown as { dialect: { wakeups: { listening: boolean } } }).dialect.wakeups.listening, 5000);
        const before = woke;
        await enqueue(p);
        await until(() => woke > before, 2000);
      } finally {
        await admin.end();
      }
    });
  });
});
