import { createHmac } from 'node:crypto';
import { safeEqual } from './crypto.js';
import { Errors } from './errors.js';

export type LinkTarget = { kind: 'render-job-output'; accountId: string; id: string } | { kind: 'pdf'; accountId: string; id: string };
export type Disposition = 'attachment' | 'inline';

export const DEFAULT_LINK_TTL_SECONDS = 600;
export const MAX_LINK_TTL_SECONDS = 7 * 24 * 3600;

function canonical(t: LinkTarget, disposition: Disposition, expires: number) {
  return `${t.kind}\n${t.accountId}\n${t.id}\n${disposition}\n${expires}`;
}

function sign(key: Buffer, data: string) {
  return createHmac('sha256', key).update(data).digest('base64url');
}

/**
 * A link anyone holding it may use until it expires, no API key needed (download = attachment, preview = inline).
 * The HMAC covers target, account, disposition and expiry, so none can be changed.
 */
export function signLink(opts: { key: Buffer; baseUrl: string; target: LinkTarget; disposition: Disposition; expiresAt: number }) {
  const expires = Math.floor(opts.expiresAt / 1000);
  const path = opts.target.kind === 'pdf' ? `/v1/signed/pdfs/${opts.target.id}` : `/v1/signed/render-jobs/${opts.target.id}/output`;
  const q = new URLSearchParams({
    account: opts.target.accountId,
    disposition: opts.disposition,
    expires: String(expires),
    signature: sign(opts.key, canonical(opts.target, opts.disposition, expires)),
  });
  return { url: `${opts.baseUrl}${path}?${q}`, expiresAt: expires * 1000 };
}

export function verifyLink(opts: { key: Buffer; target: LinkTarget; disposition: Disposition; expires: number; signature: string; now: number }) {
  if (!safeEqual(sign(opts.key, canonical(opts.target, opts.disposition, opts.expires)), opts.signature)) {
    throw Errors.signedUrlInvalid('This link is not valid: it was changed or signed by another server.');
  }
  if (opts.expires * 1000 <= opts.now) throw Errors.signedUrlExpired('This link has expired; create a new download or preview link.');
}
