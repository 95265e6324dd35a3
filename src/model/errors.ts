/** A unique constraint refused a write (both databases report theirs as this); the domain maps it to an API error. */
export class ConflictError extends Error {
  constructor(readonly constraint: string, cause?: unknown) {
    super(`unique constraint failed: ${constraint}`, { cause });
    this.name = 'ConflictError';
  }
}
