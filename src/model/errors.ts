/**
 * A commit would bring the bytes the account's live versions hold over its storage limit; checked in the commit's
 * own transaction, so two commits at once cannot both pass.
 */
export class StorageLimitError extends Error {
  constructor(readonly bytes: number, readonly limit: number) {
    super(`storage would be ${bytes} bytes, over the limit of ${limit}`);
    this.name = 'StorageLimitError';
  }
}

/**
 * A write that records one unit of a count meter found the bill period's total already at the quota (`used` ≥
 * `limit`); checked in the write's own transaction, so of concurrent creates with one unit left exactly one passes.
 */
export class QuotaExceededError extends Error {
  constructor(readonly meter: string, readonly used: number, readonly limit: number) {
    super(`${meter} quota used up: ${used} of ${limit}`);
    this.name = 'QuotaExceededError';
  }
}

/** A unique constraint refused a write (both databases report theirs as this); the domain maps it to an API error. */
export class ConflictError extends Error {
  constructor(readonly constraint: string, cause?: unknown) {
    super(`unique constraint failed: ${constraint}`, { cause });
    this.name = 'ConflictError';
  }
}
