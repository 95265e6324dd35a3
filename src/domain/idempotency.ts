import type { IdempotencyScope } from '../model/records.js';
import type { DomainDeps } from './context.js';
import { Errors } from './errors.js';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60_000;
/** A reservation never completed within this time belonged to a crashed request; it may be taken over. */
const ABANDONED_MS = 10 * 60_000;
export const MAX_KEY_LENGTH = 255;

export type IdempotencyOutcome = { kind: 'proceed' } | { kind: 'replay'; statusCode: number; body: string };

/**
 * Reserves `scope` for this request, following Stripe and the IETF draft: a completed key replays the stored
 * response, a key still running answers 409, a key reused with another request body answers 422.
 * Safe under concurrent duplicates: only one INSERT wins the reservation.
 */
export async function beginIdempotent(deps: DomainDeps, scope: IdempotencyScope, requestHash: string): Promise<IdempotencyOutcome> {
  for (let i = 0; i < 2; i++) {
    const now = deps.clock.now();
    const existing = await deps.db.idempotency.reserve(scope, requestHash, now);
    if (!existing) return { kind: 'proceed' };
    const expired = existing.createdAt <= now - IDEMPOTENCY_TTL_MS;
    const abandoned = existing.completedAt === null && existing.createdAt <= now - ABANDONED_MS;
    if (expired || abandoned) {
      await deps.db.idempotency.release(scope, existing.createdAt);
      continue;
    }
    if (existing.requestHash !== requestHash) {
      throw Errors.idempotencyKeyMismatch('This Idempotency-Key was used with a different request body; use a new key for a new request.');
    }
    if (existing.completedAt === null || existing.statusCode === null || existing.responseBody === null) {
      throw Errors.idempotencyKeyInUse('A request with this Idempotency-Key is still being processed; retry after it finishes.');
    }
    return { kind: 'replay', statusCode: existing.statusCode, body: openBody(deps, existing.responseBody) };
  }
  throw Errors.idempotencyKeyInUse('A request with this Idempotency-Key is still being processed; retry after it finishes.');
}

/**
 * Answers that mean "this request did not run" are not stored, so a corrected retry under the same key runs:
 * validation (400), permission (403: the key is scoped to the account, so a viewer's refusal must not block an
 * editor's retry), rate limits and quotas (429, whose Retry-After invites a retry).
 */
const NOT_STORED = new Set([400, 401, 403, 429]);

/**
 * Stores the first response; 5xx and the statuses above release the key instead, so the client's retry runs again.
 * The body is stored encrypted: creates answer with secrets shown once (API keys, upload tokens).
 */
export async function finishIdempotent(deps: DomainDeps, scope: IdempotencyScope, statusCode: number, body: string) {
  if (statusCode >= 500 || NOT_STORED.has(statusCode)) await deps.db.idempotency.release(scope);
  else await deps.db.idempotency.complete(scope, statusCode, deps.secretBox.encrypt(body), deps.clock.now());
}

/** Stored bodies are sealed by finishIdempotent; a plain JSON body (stored before sealing) is returned as is. */
function openBody(deps: DomainDeps, stored: string): string {
  return stored.startsWith('v1.') ? deps.secretBox.decrypt(stored) : stored;
}
