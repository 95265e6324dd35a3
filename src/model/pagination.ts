/**
 * Position in a list ordered (time desc, id desc), where the time is the list's own: `createdAt`, or `requestedAt`
 * for render jobs. Cursors are opaque base64url of this.
 */
export interface CursorPosition {
  at: number;
  id: string;
}

/** A page of a list: up to `limit` rows after `after`; repositories return `limit + 1` so the caller sees if more follow. */
export interface PageRequest {
  limit: number;
  after?: CursorPosition;
}
