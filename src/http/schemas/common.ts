import { Type, type TSchema } from 'typebox';
import { ID_PATTERN, type IdPrefix } from '../../domain/ids.js';
import { MAX_KEY_LENGTH } from '../../domain/idempotency.js';
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

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request: invalid_input, invalid_path_param, invalid_query_param, invalid_header, or a hard limit',
  401: 'missing_authorization or invalid_api_key',
  403: 'api_key_disabled, account_disabled (the operator disabled the account) or insufficient_permission',
  404: 'Not found (another account\'s resources are not found either)',
  409: 'Conflict',
  410: 'Gone (expired)',
  422: 'idempotency_key_mismatch: the Idempotency-Key was used with another request',
  429: 'rate_limited or a quota is used up; see Retry-After',
  500: 'internal_error',
  501: 'not_implemented',
  503: 'service_unavailable: storage, database or renderer not ready',
};

/*
 * Errors are always JSON, also on routes that produce PDFs: the response is keyed by media type, so the docs do not
 * inherit the route's `produces` and the serializer picks this schema for the error handler's JSON.
 */
const errorResponse = (status: number) => ({
  description: ERROR_DESCRIPTIONS[status] ?? 'Error',
  ...(status === 429 ? { headers: { 'retry-after': Type.Integer({ description: 'seconds to wait before retrying' }) } } : {}),
  content: { 'application/json': { schema: ErrorRef } },
});

/** The error statuses a route can answer, each pointing at ErrorResponse. 400/401/403/429/500/503 always apply. */
export function errors(...statuses: number[]) {
  const all = new Set([400, 401, 403, 429, 500, 503, ...statuses]);
  return Object.fromEntries([...all].sort().map((s) => [s, errorResponse(s)]));
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
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: MAX_KEY_LENGTH, description: 'Retry-safe key: the same key within 24 h returns the first response.' })),
});

/** 204 responses: no body. */
export const NoContent = Type.Unsafe<undefined>({ type: 'null', description: 'No Content' });
