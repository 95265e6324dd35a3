/** Position in a (createdAt desc, id desc) list. Cursors are opaque base64url of this. */
export interface CursorPosition {
  createdAt: number;
  id: string;
}

/** A page of a list: up to `limit` rows after `after`; repositories return `limit + 1` so the caller sees if more follow. */
export interface PageRequest {
  limit: number;
  after?: CursorPosition;
}
