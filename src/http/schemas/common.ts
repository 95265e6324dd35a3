import { Type, type TSchema } from 'typebox';
import { ID_PATTERN, type IdPrefix } from '../../domain/ids.js';
import { MAX_LIMIT } from '../../domain/pagination.js';

/** Registered once with app.addSchema; every route's 4xx/5xx responses point at it. */
export const ErrorResponse = Type.Object(
  {
    error: Type.String({ description: 'Machine-readable error code (see docs/api.md for the catalogue).' }),
    message: Type.String({ description: 'Human-readable description; may change, do not parse.' }),
  },
  { $id: 'ErrorResponse', title: 'ErrorResponse', additionalProperties: false },
);

export const ErrorRef = Type.Unsafe<{ error: string; message: string }>({ $ref: 'ErrorResponse#' });

/** The error statuses a route can answer, each pointing at ErrorResponse. 400/401/403/500/503 always apply. */
export function errors(...statuses: number[]) {
  const all = new Set([400, 401, 403, 429, 500, 503, ...statuses]);
  return Object.fromEntries([...all].sort().map((s) => [s, ErrorRef]));
}

export const Id = (prefix: IdPrefix, description?: string) =>
  Type.String({ pattern: ID_PATTERN(prefix), description: description ?? `${prefix}_ id` });

export const PageQuery = Type.Object(
  {
    cursor: Type.Optional(Type.String({ maxLength: 512, description: 'nextCursor of the previous page, unchanged.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: 20, description: `1–${MAX_LIMIT}, default 20` })),
  },
  { additionalProperties: false },
);

export const Page = <T extends TSchema>(item: T, title: string) =>
  Type.Object(
    { items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'null on the last page' }) },
    { title, additionalProperties: false },
  );

export const Millis = (description = 'Unix epoch milliseconds') => Type.Integer({ description });
export const NullableMillis = (description = 'Unix epoch milliseconds, or null') => Type.Union([Type.Integer(), Type.Null()], { description });

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Retry-safe key: the same key within 24 h returns the first response.' })),
});

/** 204 responses: no body. */
export const NoContent = Type.Unsafe<undefined>({ type: 'null', description: 'No Content' });
