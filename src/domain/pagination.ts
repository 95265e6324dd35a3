import type { CursorPosition, PageRequest } from '../model/pagination.js';
import { Errors } from './errors.js';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 100;

export function encodeCursor(pos: CursorPosition): string {
  return Buffer.from(JSON.stringify([pos.at, pos.id])).toString('base64url');
}

export function decodeCursor(cursor: string): CursorPosition {
  try {
    const raw = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(raw) && raw.length === 2 && Number.isSafeInteger(raw[0]) && typeof raw[1] === 'string' && raw[1].length <= 128) {
      return { at: raw[0], id: raw[1] };
    }
  } catch {
    // fall through
  }
  throw Errors.invalidQueryParam('cursor is not a cursor returned by this API; pass nextCursor from a previous page unchanged.');
}

export function pageRequest(query: { cursor?: string; limit?: number }): PageRequest {
  return { limit: query.limit ?? DEFAULT_LIMIT, after: query.cursor ? decodeCursor(query.cursor) : undefined };
}

/**
 * Repositories fetch limit+1 rows; this turns them into a page with the cursor of the last item shown. `at` is the
 * list's order time: createdAt unless the list says otherwise (render jobs: requestedAt).
 */
export function toPage<R extends { id: string; createdAt: number }, T>(rows: R[], limit: number, map: (r: R) => T): Page<T>;
export function toPage<R extends { id: string }, T>(rows: R[], limit: number, map: (r: R) => T, at: (r: R) => number): Page<T>;
export function toPage<R extends { id: string }, T>(
  rows: R[], limit: number, map: (r: R) => T, at = (r: R) => (r as unknown as { createdAt: number }).createdAt,
): Page<T> {
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  const last = shown[shown.length - 1];
  return { items: shown.map(map), nextCursor: more && last ? encodeCursor({ at: at(last), id: last.id }) : null };
}
