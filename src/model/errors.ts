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

/** A unique constraint refused a write (both databases report theirs as this); the domain maps it to an API error. */
export class ConflictError extends Error {
  constructor(readonly constraint: string, cause?: unknown) {
    super(`unique constraint failed: ${constraint}`, { cause });
    this.name = 'ConflictError';
  }
}
