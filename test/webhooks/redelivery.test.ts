/**
 * Redelivery (POST /v1/deploys/{deployId}/webhook-deliveries/{deliveryId}/redeliver): a real server, real renders and
 * a real receiver on 127.0.0.1. One more attempt of the same event, signed with the current secret, sent once; a
 * repeated request never sends twice; editors and admins may, viewers and other workspaces may not; audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../../src/domain/accounts.js';
import { expectError } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Receiver, deliveries, expectedSignature, failedJob, hookedDeploy } from './support.js';

let s: TestServer;
const receiver = new Receiver();
let accountId: string;
let keys: { editor: string; viewer: string };
let deployId: string;
let first: any; // the first (scheduled) attempt of the job's event
let jobId: string;

const redeliver = (deliveryId: string, opts: { key?: string; deploy?: string; headers?: Record<string, string> } = {}) =>
  s.request('POST', `/v1/deploys/${opts.deploy ?? deployId}/webhook-deliveries/${deliveryId}/redeliver`, { key: opts.key, headers: opts.headers });

beforeAll(async () => {
  [s] = await Promise.all([startTestServer(), receiver.start()]);
  // only the test's own passes send: the background poll (1 s) would otherwise deliver a pending attempt between two
  // requests that expect to see it pending
  await s.webhooks.stop();
  accountId = (await s.request('GET', '/v1/account')).body.account.id;
  keys = {
    editor: (await issueApiKey(s.deps, accountId, { name: 'editor', role: 'editor' })).key,
    viewer: (await issueApiKey(s.deps, accountId, { name: 'viewer', role: 'viewer' })).key,
  };
  deployId = (await hookedDeploy(s, receiver, '/r')).deployId;
  jobId = (await failedJob(s, deployId)).id;
  await s.webhooks.runOnce();
  [first] = await deliveries(s, deployId);
  expect(first).toMatchObject({ attempt: 1, status: 'succeeded', redeliveryOf: null });
});
afterAll(async () => {
  await s?.stop();
  await receiver.stop();
});

describe('webhook redelivery', () => {
  it('sends the same event once more, as the next attempt, signed with the current secret', async () => {
    const rotated = await s.request('PATCH', '/v1/account', { json: { webhook: { signingSecretAction: 'rotate' } } });
    const secret = rotated.body.account.webhook.signingSecret as string;
    const res = await redeliver(first.id, { key: keys.editor });
    expect(res.status, res.text).toBe(202);
    expect(res.body.created).toBe(true);
    const attempt = res.body.delivery;
    expect(attempt).toMatchObject({ eventId: first.eventId, renderJobId: jobId, attempt: 2, status: 'pending', redeliveryOf: first.id, url: `${receiver.url}/r` });
    expect(attempt.id).not.toBe(first.id);

    await s.webhooks.runOnce();
    const got = receiver.forJob(jobId);
    expect(got).toHaveLength(2);
    const [original, again] = got;
    expect(again.raw).toBe(original.raw); // a failed job's body has no per-attempt link: byte for byte the same
    expect(again.headers['press-webhook-id']).toBe(original.headers['press-webhook-id']);
    expect(again.headers['press-webhook-delivery']).toBe(attempt.id);
    expect(again.headers['press-webhook-attempt']).toBe('2');
    const ts = again.headers['press-webhook-timestamp'] as string;
    expect(again.headers['press-webhook-signature']).toBe(expectedSignature(secret, ts, again.raw));
    const log = await deliveries(s, deployId);
    expect(log.map((d) => [d.attempt, d.status, d.redeliveryOf])).toEqual([[1, 'succeeded', null], [2, 'succeeded', first.id]]);
  });

  it('a repeated request while the attempt is pending returns that attempt: one request reaches the receiver', async () => {
    const before = receiver.forJob(jobId).length;
    const a = await redeliver(first.id);
    const b = await redeliver(first.id, { key: keys.editor });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(b.body).toEqual({ delivery: a.body.delivery, created: false });
    // the same Idempotency-Key replays the first answer
    const c = await redeliver(first.id, { headers: { 'idempotency-key': 'redeliver-once' } });
    const d = await redeliver(first.id, { headers: { 'idempotency-key': 'redeliver-once' } });
    expect(d.status).toBe(202);
    expect(d.body).toEqual(c.body);
    await s.webhooks.runOnce();
    expect(receiver.forJob(jobId).length).toBe(before + 1);
  });

  it('a failed redelivery is shown and not retried', async () => {
    receiver.behave('/r', () => ({ status: 500 }));
    try {
      const res = await redeliver(first.id);
      await s.webhooks.runOnce();
      const log = await deliveries(s, deployId);
      const sent = log.find((d) => d.id === res.body.delivery.id)!;
      expect(sent).toMatchObject({ status: 'failed', responseStatus: 500, nextAttemptAt: null });
      expect(log.some((d) => d.status === 'pending')).toBe(false);
    } finally {
      receiver.behave('/r', () => ({ status: 200 }));
    }
  });

  it('viewers may not; other deploys and workspaces answer 404; a disabled webhook answers 409', async () => {
    expectError(await redeliver(first.id, { key: keys.viewer }), 403, 'insufficient_permission');
    const other = await s.newAccount(`other-${Date.now()}`);
    for (const key of Object.values(other.keys)) {
      const res = await redeliver(first.id, { key });
      expect(res.status).toBe(key === other.keys.viewer ? 403 : 404);
      if (res.status === 404) expectError(res, 404, 'deploy_not_found');
    }
    // a delivery of another deploy of the same workspace, and an unknown id
    const second = (await hookedDeploy(s, receiver, '/other')).deployId;
    expectError(await redeliver(first.id, { deploy: second }), 404, 'webhook_delivery_not_found');
    expectError(await redeliver('whd_00000000000000000000'), 404, 'webhook_delivery_not_found');

    const off = await s.request('PATCH', `/v1/deploys/${deployId}/settings`, { json: { webhook: { enabled: false } } });
    expect(off.status, off.text).toBe(200);
    expectError(await redeliver(first.id), 409, 'webhook_disabled');
    await s.request('PATCH', `/v1/deploys/${deployId}/settings`, { json: { webhook: { enabled: true } } });
  });

  it('is in the audit log with the key that asked, and the attempt it queued', async () => {
    const log = (await s.request('GET', `/v1/audit-logs?action=webhook.redelivered&limit=100`, { key: keys.viewer })).body.items;
    expect(log.length).toBeGreaterThanOrEqual(4);
    const byEditor = log.find((e: any) => e.actor.type === 'api_key' && e.details.queued === true && e.requestId);
    expect(byEditor).toMatchObject({ target: { type: 'deploy', id: deployId }, details: { deliveryId: first.id, eventId: first.eventId, renderJobId: jobId } });
    expect(log.filter((e: any) => e.details.queued === false).length).toBeGreaterThanOrEqual(1);
  });
});
