/**
 * Webhook retries, durability and safety: the schedule lives in the database and runs on the (manual) clock, a fresh
 * sender picks up what a dead one left, concurrent senders deliver once, redirects/private hosts/timeouts fail.
 * Jobs here fail at once (missing entry), so no page is rendered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { DomainDeps } from '../../src/domain/context.js';
import { WEBHOOK_RETRY_DELAYS_MS } from '../../src/domain/webhooks.js';
import { WebhookSender } from '../../src/workers/webhook-sender.js';
import type { Database } from '../../src/ports/database.js';
import { createDomainDeps } from '../../src/start/compose.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Receiver, deliveries, expectedSignature, failedJob, hookedDeploy } from './support.js';

let s: TestServer;
const receiver = new Receiver();
let accountSecret: string;
/** a second connection to the same database: what a restarted process or a second node sees */
let other: DomainDeps;

beforeAll(async () => {
  [s] = await Promise.all([startTestServer(), receiver.start()]);
  const rotated = await s.request('PATCH', '/v1/account', { json: { webhook: { signingSecretAction: 'rotate' } } });
  expect(rotated.status, rotated.text).toBe(200);
  accountSecret = rotated.body.account.webhook.signingSecret;
  other = await createDomainDeps(loadConfig(s.env), { clock: s.clock }); // same SQLite file, or same PostgreSQL + S3
  other.settings.publicUrl = s.url;
});
afterAll(async () => {
  await other?.db.close();
  await s?.stop();
  await receiver.stop();
});

/** Runs `fn` with the server's own sender stopped, so only the senders the test makes deliver. */
async function withServerSenderStopped(fn: () => Promise<void>) {
  await s.webhooks.stop();
  try {
    await fn();
  } finally {
    s.webhooks.start();
  }
}

describe('retries', () => {
  it('a 500 is retried after 1 min with the same event id, a new delivery id and attempt 2', async () => {
    receiver.behave('/flaky', (n) => ({ status: n === 0 ? 500 : 204 }));
    const { deployId } = await hookedDeploy(s, receiver, '/flaky');
    const job = await failedJob(s, deployId);
    await s.webhooks.runOnce();
    expect(receiver.on('/flaky')).toHaveLength(1);
    const failedAt = s.clock.now();

    let log = await deliveries(s, deployId);
    expect(log).toHaveLength(2);
    expect(log[0]).toMatchObject({
      attempt: 1, status: 'failed', responseStatus: 500, error: expect.stringContaining('500'),
      deliveredAt: failedAt, nextAttemptAt: failedAt + 60_000, renderJobId: job.id,
    });
    expect(log[1]).toMatchObject({ attempt: 2, status: 'pending', responseStatus: null, error: null, deliveredAt: null, nextAttemptAt: failedAt + 60_000 });

    // not due yet
    s.clock.advance(59_000);
    await s.webhooks.runOnce();
    expect(receiver.on('/flaky')).toHaveLength(1);

    s.clock.advance(1_000);
    await s.webhooks.runOnce();
    const [first, second] = receiver.on('/flaky');
    expect(receiver.on('/flaky')).toHaveLength(2);
    expect(second.headers['press-webhook-id']).toBe(first.headers['press-webhook-id']);
    expect(second.headers['press-webhook-id']).toBe(`evt_render_job_terminated_${job.id}`);
    expect(second.headers['press-webhook-delivery']).not.toBe(first.headers['press-webhook-delivery']);
    expect(first.headers['press-webhook-attempt']).toBe('1');
    expect(second.headers['press-webhook-attempt']).toBe('2');
    expect(Number(second.headers['press-webhook-timestamp']) - Number(first.headers['press-webhook-timestamp'])).toBe(60);
    for (const r of [first, second]) {
      expect(r.headers['press-webhook-signature']).toBe(expectedSignature(accountSecret, r.headers['press-webhook-timestamp'] as string, r.raw));
    }
    // the event is the same; the body is built per attempt
    expect(second.body.id).toBe(first.body.id);
    expect(second.body.createdAt).toBe(first.body.createdAt);

    log = await deliveries(s, deployId);
    expect(log.map((d) => [d.attempt, d.status, d.responseStatus])).toEqual([[1, 'failed', 500], [2, 'succeeded', 204]]);
    expect(log[1].id).toBe(second.headers['press-webhook-delivery']);
    expect(log[0].id).toBe(first.headers['press-webhook-delivery']);
    expect(log[1].nextAttemptAt).toBeNull();

    s.clock.advance(3_600_000);
    await s.webhooks.runOnce();
    expect(receiver.on('/flaky')).toHaveLength(2);
  });

  it('after 7 failed attempts (1 min, 5 min, 30 min, 2 h, 6 h, 12 h apart) the delivery is failed for good', async () => {
    receiver.behave('/down', () => ({ status: 503 }));
    const { deployId } = await hookedDeploy(s, receiver, '/down');
    const job = await failedJob(s, deployId);
    await s.webhooks.runOnce();
    const times = [s.clock.now()];
    for (const delay of WEBHOOK_RETRY_DELAYS_MS) {
      s.clock.advance(delay - 1);
      await s.webhooks.runOnce();
      expect(receiver.on('/down')).toHaveLength(times.length); // one ms early: nothing
      s.clock.advance(1);
      await s.webhooks.runOnce();
      times.push(s.clock.now());
      expect(receiver.on('/down')).toHaveLength(times.length);
    }
    const got = receiver.on('/down');
    expect(got.map((r) => r.headers['press-webhook-attempt'])).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    expect(new Set(got.map((r) => r.headers['press-webhook-id']))).toEqual(new Set([`evt_render_job_terminated_${job.id}`]));
    expect(new Set(got.map((r) => r.headers['press-webhook-delivery'])).size).toBe(7);

    const log = await deliveries(s, deployId);
    expect(log.map((d) => [d.attempt, d.status, d.responseStatus, d.deliveredAt])).toEqual(times.map((t, i) => [i + 1, 'failed', 503, t]));
    expect(log.slice(0, 6).map((d, i) => d.nextAttemptAt - d.deliveredAt)).toEqual([...WEBHOOK_RETRY_DELAYS_MS]);
    expect(log[6].nextAttemptAt).toBeNull();

    s.clock.advance(7 * 24 * 3_600_000);
    await s.webhooks.runOnce();
    await s.sweep();
    expect(receiver.on('/down')).toHaveLength(7);
    expect(await deliveries(s, deployId)).toHaveLength(7);
  });

  it('a redirect is a failed attempt and is not followed', async () => {
    receiver.behave('/moved', () => ({ status: 302, headers: { location: `${receiver.url}/moved-target` } }));
    const { deployId } = await hookedDeploy(s, receiver, '/moved');
    await failedJob(s, deployId);
    await s.webhooks.runOnce();
    expect(receiver.on('/moved')).toHaveLength(1);
    expect(receiver.on('/moved-target')).toHaveLength(0);
    const [first] = await deliveries(s, deployId);
    expect(first).toMatchObject({ attempt: 1, status: 'failed', responseStatus: 302, error: expect.stringMatching(/redirect/) });
  });

  it('no 2xx within the timeout is a failed attempt', async () => {
    receiver.behave('/slow', () => ({ status: 200, delayMs: 1_500 }));
    const { deployId } = await hookedDeploy(s, receiver, '/slow');
    await withServerSenderStopped(async () => {
      await failedJob(s, deployId);
      await new WebhookSender(s.deps, { timeoutMs: 200 }).runOnce();
    });
    const [first, second] = await deliveries(s, deployId);
    expect(first).toMatchObject({ attempt: 1, status: 'failed', responseStatus: null, error: expect.stringMatching(/no response within 0\.2 s/) });
    expect(second).toMatchObject({ attempt: 2, status: 'pending' });
  });

  it('private addresses are refused before each attempt unless the operator allows them', async () => {
    const { deployId } = await hookedDeploy(s, receiver, '/private');
    const strict: DomainDeps = { ...s.deps, settings: { ...s.deps.settings, webhookAllowPrivate: false } };
    await withServerSenderStopped(async () => {
      await failedJob(s, deployId);
      await new WebhookSender(strict).runOnce();
    });
    expect(receiver.on('/private')).toHaveLength(0);
    const [first, second] = await deliveries(s, deployId);
    expect(first).toMatchObject({ attempt: 1, status: 'failed', responseStatus: null, error: expect.stringMatching(/refused.*127\.0\.0\.1.*public address/) });
    expect(first.nextAttemptAt).toBe(s.clock.now() + 60_000);
    expect(second).toMatchObject({ attempt: 2, status: 'pending' });
  });
});

describe('durability and concurrency', () => {
  it('a delivery left by a sender that died after claiming it is sent by a fresh sender once its lease lapses', async () => {
    const { deployId } = await hookedDeploy(s, receiver, '/durable');
    await withServerSenderStopped(async () => {
      const job = await failedJob(s, deployId);
      expect((await s.deps.db.renderJobs.getById(job.id))!.webhookPending).toBe(true);

      // this sender creates the event, claims the attempt, then "crashes" before sending
      const webhooks = s.deps.db.webhooks;
      const crashingStore = Object.create(s.deps.db) as Database;
      crashingStore.webhooks = {
        ...webhooks,
        claimDue: async (...args) => {
          await webhooks.claimDue(...args);
          throw new Error('process killed');
        },
      };
      await expect(new WebhookSender({ ...s.deps, db: crashingStore }).runOnce()).rejects.toThrow('process killed');
      expect((await s.deps.db.renderJobs.getById(job.id))!.webhookPending).toBe(false);
      expect(await deliveries(s, deployId)).toMatchObject([{ attempt: 1, status: 'pending' }]);

      // a restarted process (its own database connection, a new sender) leaves the leased attempt alone…
      const fresh = new WebhookSender(other);
      await fresh.runOnce();
      expect(receiver.on('/durable')).toHaveLength(0);
      // …until the lease lapses
      s.clock.advance(60_001);
      await fresh.runOnce();
      expect(receiver.on('/durable')).toHaveLength(1);
      expect(receiver.on('/durable')[0].headers['press-webhook-attempt']).toBe('1');
      expect(await deliveries(s, deployId)).toMatchObject([{ attempt: 1, status: 'succeeded', responseStatus: 200 }]);
    });
  });

  it('a job that ended while no sender ran is delivered by a sender started later', async () => {
    const { deployId } = await hookedDeploy(s, receiver, '/later');
    await withServerSenderStopped(async () => {
      const job = await failedJob(s, deployId);
      expect(receiver.on('/later')).toHaveLength(0);
      const fresh = new WebhookSender(other, { pollMs: 60_000 });
      fresh.start(); // start-up runs a pass at once
      await fresh.runOnce();
      await fresh.stop();
      expect(receiver.forJob(job.id)).toHaveLength(1);
    });
  });

  it('two senders (two connections) running at once deliver each event once', async () => {
    receiver.behave('/concurrent', () => ({ status: 200, delayMs: 100 }));
    const { deployId } = await hookedDeploy(s, receiver, '/concurrent');
    await withServerSenderStopped(async () => {
      const jobs = [await failedJob(s, deployId), await failedJob(s, deployId), await failedJob(s, deployId)];
      const a = new WebhookSender(s.deps);
      const b = new WebhookSender(other);
      await Promise.all([a.runOnce(), b.runOnce(), new WebhookSender(s.deps).runOnce(), new WebhookSender(other).runOnce()]);
      for (const job of jobs) expect(receiver.forJob(job.id)).toHaveLength(1);
      expect(receiver.on('/concurrent')).toHaveLength(3);
      const log = await deliveries(s, deployId);
      expect(log).toHaveLength(3);
      expect(log.every((d) => d.status === 'succeeded' && d.attempt === 1)).toBe(true);
      await Promise.all([a.runOnce(), b.runOnce()]);
      expect(receiver.on('/concurrent')).toHaveLength(3);
    });
  });
});

describe('settings at attempt time', () => {
  it('a retry goes to the URL in the settings now; disabling the webhook ends the delivery', async () => {
    receiver.behave('/old', () => ({ status: 500 }));
    const { deployId } = await hookedDeploy(s, receiver, '/old');
    await failedJob(s, deployId);
    await s.webhooks.runOnce();
    expect(receiver.on('/old')).toHaveLength(1);

    const moved = await s.request('PATCH', `/v1/deploys/${deployId}/settings`, { json: { webhook: { url: `${receiver.url}/new` } } });
    expect(moved.status).toBe(200);
    receiver.behave('/new', () => ({ status: 500 }));
    s.clock.advance(60_000);
    await s.webhooks.runOnce();
    expect(receiver.on('/new')).toHaveLength(1);
    expect(receiver.on('/new')[0].headers['press-webhook-attempt']).toBe('2');

    const off = await s.request('PATCH', `/v1/deploys/${deployId}/settings`, { json: { webhook: { enabled: false } } });
    expect(off.status).toBe(200);
    s.clock.advance(300_000);
    await s.webhooks.runOnce();
    expect(receiver.on('/new')).toHaveLength(1);
    const log = await deliveries(s, deployId);
    expect(log.map((d) => [d.attempt, d.status, d.url.replace(receiver.url, '')])).toEqual([[1, 'failed', '/old'], [2, 'failed', '/new'], [3, 'failed', '/new']]);
    expect(log[2]).toMatchObject({ responseStatus: null, error: expect.stringMatching(/disabled/), nextAttemptAt: null });
  });
});
