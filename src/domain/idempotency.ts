import type { IdempotencyScope } from '../ports/metadata-store.js';
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
    const existing = await deps.store.idempotency.reserve(scope, requestHash, now);
    if (!existing) return { kind: 'proceed' };
    const expired = existing.createdAt <= now - IDEMPOTENCY_TTL_MS;
    const abandoned = existing.completedAt === null && existing.createdAt <= now - ABANDONED_MS;
    if (expired || abandoned) {
      await deps.store.idempotency.release(scope);
      continue;
    }
    if (existing.requestHash !== requestHash) {
      throw Errors.idempotencyKeyMismatch('This Idempotency-Key was used with a different request body; use a new key for a new request.');
    }
    if (existing.completedAt === null || existing.statusCode === null || existing.responseBody === null) {
      throw Errors.idempotencyKeyInUse('A request with this Idempotency-Key is still being processed; retry after it finishes.');
    }
    return { kind: 'replay', statusCode: existing.statusCode, body: existing.responseBody };
  }
  throw Errors.idempotencyKeyInUse('A request with this Idempotency-Key is still being processed; retry after it finishes.');
}

/** Stores the first response; 5xx responses release the key instead, so the client's retry runs again. */
export async function finishIdempotent(deps: DomainDeps, scope: IdempotencyScope, statusCode: number, body: string) {
  if (statusCode >= 500) await deps.store.idempotency.release(scope);
  else await deps.store.idempotency.complete(scope, statusCode, body, deps.clock.now());
}
