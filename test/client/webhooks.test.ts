import { describe, expect, it } from 'vitest';
import { PressWebhookError, verifyWebhook } from '@press-cloud/sdk';
import { signWebhook } from '../../src/domain/webhooks.js';

const SECRET = 'whsec_test_0123456789abcdefghijklmnopqrstuvwxyzAB';
const body = JSON.stringify({ id: 'evt_render_job_terminated_rj_1', type: 'render.job.terminated', createdAt: 1, data: { job: { id: 'rj_1', status: 'succeeded' } } });
const now = Date.UTC(2026, 10, 25, 12, 0, 0);
const ts = Math.floor(now / 1000);

/** Headers exactly as the server's sender builds them (its own signWebhook). */
function signed(timestamp = ts, raw = body, secret = SECRET) {
  return { 'Press-Webhook-Timestamp': String(timestamp), 'Press-Webhook-Signature': signWebhook(secret, timestamp, raw) };
}

async function reason(p: Promise<unknown>) {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(PressWebhookError);
  return (err as PressWebhookError).reason;
}

describe('verifyWebhook', () => {
  it('accepts the server\'s signature (plain header objects in any case, or Headers) and returns the event', async () => {
    const event = await verifyWebhook(body, signed(), SECRET, { now });
    expect(event).toMatchObject({ type: 'render.job.terminated', data: { job: { id: 'rj_1' } } });
    const lower = Object.fromEntries(Object.entries(signed()).map(([k, v]) => [k.toLowerCase(), v]));
    await expect(verifyWebhook(new TextEncoder().encode(body), new Headers(lower), SECRET, { now })).resolves.toMatchObject({ id: 'evt_render_job_terminated_rj_1' });
    // during a rotation several v1= values may be sent: one match suffices
    const h = signed();
    await expect(verifyWebhook(body, { ...h, 'Press-Webhook-Signature': `v1=${'0'.repeat(64)}, ${h['Press-Webhook-Signature']}` }, SECRET, { now })).resolves.toBeTruthy();
  });

  it('rejects a tampered body, a wrong secret, a forged timestamp and malformed signatures', async () => {
    expect(await reason(verifyWebhook(body.replace('succeeded', 'failed'), signed(), SECRET, { now }))).toBe('invalid_signature');
    expect(await reason(verifyWebhook(body, signed(), `${SECRET}x`, { now }))).toBe('invalid_signature');
    expect(await reason(verifyWebhook(body, { ...signed(), 'Press-Webhook-Timestamp': String(ts + 1) }, SECRET, { now }))).toBe('invalid_signature');
    expect(await reason(verifyWebhook(body, { ...signed(), 'Press-Webhook-Signature': 'v1=zz' }, SECRET, { now }))).toBe('invalid_signature');
    expect(await reason(verifyWebhook(body, { ...signed(), 'Press-Webhook-Signature': signWebhook(SECRET, ts, body).slice(0, -2) }, SECRET, { now }))).toBe('invalid_signature');
    expect(await reason(verifyWebhook(body, { 'Press-Webhook-Timestamp': String(ts) }, SECRET, { now }))).toBe('missing_signature');
    expect(await reason(verifyWebhook(body, { 'Press-Webhook-Signature': 'v1=00' }, SECRET, { now }))).toBe('missing_timestamp');
    expect(await reason(verifyWebhook(body, { ...signed(), 'Press-Webhook-Timestamp': 'soon' }, SECRET, { now }))).toBe('invalid_timestamp');
  });

  it('rejects stale (and far-future) timestamps beyond the tolerance, 300 s by default', async () => {
    await expect(verifyWebhook(body, signed(ts - 300), SECRET, { now })).resolves.toBeTruthy();
    expect(await reason(verifyWebhook(body, signed(ts - 301), SECRET, { now }))).toBe('stale_timestamp');
    expect(await reason(verifyWebhook(body, signed(ts + 301), SECRET, { now }))).toBe('stale_timestamp');
    await expect(verifyWebhook(body, signed(ts - 3600), SECRET, { now, toleranceSeconds: 7200 })).resolves.toBeTruthy();
    expect(await reason(verifyWebhook(body, signed(ts - 31), SECRET, { now, toleranceSeconds: 30 }))).toBe('stale_timestamp');
  });
});
