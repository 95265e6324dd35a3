/**
 * Webhook verification (spec §7): `Press-Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<rawBody>")>`,
 * `Press-Webhook-Timestamp: <Unix seconds>`, the key being the whole `whsec_…` string. Uses Web Crypto, so it runs
 * in Node ≥ 20, edge runtimes and browsers alike.
 */
import type { RenderJob } from './types.js';

export interface WebhookEvent {
  id: string;
  type: 'render.job.terminated' | (string & {});
  createdAt: number;
  data: {
    job: RenderJob;
    output?: { fileName: string; bytes: number; pageCount: number; download: { url: string; expiresAt: number } };
  };
}

export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export type WebhookFailure = 'missing_signature' | 'missing_timestamp' | 'invalid_timestamp' | 'stale_timestamp' | 'invalid_signature' | 'invalid_body';

/** Why a webhook was rejected (`reason`); answer such a request with 400 and do not act on it. */
export class PressWebhookError extends Error {
  constructor(
    readonly reason: WebhookFailure,
    message: string,
  ) {
    super(message);
    this.name = 'PressWebhookError';
  }
}

export interface VerifyWebhookOptions {
  /** largest accepted distance between the timestamp and now, in seconds; default 300 */
  toleranceSeconds?: number;
  /** current time in ms (tests) */
  now?: number;
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const rec = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(rec).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : rec[key];
  return Array.isArray(v) ? v.join(',') : v;
}

/** Equal-length byte comparison whose time does not depend on where the first difference is. */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function fromHex(hex: string): Uint8Array | null {
  if (!/^(?:[0-9a-f]{2})+$/i.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Checks a webhook request and returns its parsed event. `rawBody` must be the exact bytes received (verify before
 * any JSON parsing/re-serialising). Throws `PressWebhookError` on a missing, stale or wrong signature. Several
 * `v1=` values (comma-separated) are accepted while a secret is being rotated: any match passes.
 */
export async function verifyWebhook(
  rawBody: string | Uint8Array,
  headers: WebhookHeaders,
  secret: string,
  opts: VerifyWebhookOptions = {},
): Promise<WebhookEvent> {
  const tolerance = opts.toleranceSeconds ?? 300;
  const signature = header(headers, 'press-webhook-signature');
  const timestamp = header(headers, 'press-webhook-timestamp');
  if (!signature) throw new PressWebhookError('missing_signature', 'the Press-Webhook-Signature header is missing');
  if (!timestamp) throw new PressWebhookError('missing_timestamp', 'the Press-Webhook-Timestamp header is missing');
  if (!/^\d{1,12}$/.test(timestamp.trim())) throw new PressWebhookError('invalid_timestamp', 'Press-Webhook-Timestamp is not Unix seconds');
  const ts = Number(timestamp.trim());
  const nowS = Math.floor((opts.now ?? Date.now()) / 1000);
  if (Math.abs(nowS - ts) > tolerance) {
    throw new PressWebhookError('stale_timestamp', `the webhook timestamp is ${nowS - ts} s away from now (tolerance ${tolerance} s)`);
  }

  const enc = new TextEncoder();
  const body = typeof rawBody === 'string' ? enc.encode(rawBody) : rawBody;
  const signed = new Uint8Array(timestamp.trim().length + 1 + body.length);
  signed.set(enc.encode(`${timestamp.trim()}.`), 0);
  signed.set(body, timestamp.trim().length + 1);
  const key = await globalThis.crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const expected = new Uint8Array(await globalThis.crypto.subtle.sign('HMAC', key, signed));

  let ok = false;
  for (const part of signature.split(',')) {
    const m = /^\s*v1=([0-9a-fA-F]+)\s*$/.exec(part);
    const given = m ? fromHex(m[1]) : null;
    // no early exit: every candidate is compared
    if (given && constantTimeEqual(given, expected)) ok = true;
  }
  if (!ok) throw new PressWebhookError('invalid_signature', 'the webhook signature does not match (wrong secret or altered body)');

  try {
    return JSON.parse(new TextDecoder().decode(body)) as WebhookEvent;
  } catch {
    throw new PressWebhookError('invalid_body', 'the webhook body is not JSON');
  }
}
