import type { operations } from '../../packages/sdk/src/schema.js';

/**
 * The dashboard's only way to the server: the public /v1 API, typed by the generated SDK schema (one operationId
 * per call). Authentication is the HttpOnly session cookie the browser sends by itself; writes carry the session's
 * CSRF token, and workspace routes name the workspace in Press-Workspace.
 */
export type Op = keyof operations;
type Responses<O extends Op> = operations[O]['responses'];
type JsonOf<R> = R extends { content: { 'application/json': infer J } } ? J : undefined;
export type Ok<O extends Op> = JsonOf<
  200 extends keyof Responses<O> ? Responses<O>[200] : 201 extends keyof Responses<O> ? Responses<O>[201] : 202 extends keyof Responses<O> ? Responses<O>[202] : never
>;
type BodyOf<O extends Op> = operations[O] extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
type QueryOf<O extends Op> = operations[O]['parameters'] extends { query?: infer Q } ? Q : never;

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

let csrfToken: string | null = null;
let workspaceId: string | null = null;
export const setCsrfToken = (t: string | null) => { csrfToken = t; };
export const setWorkspace = (w: string | null) => { workspaceId = w; };
export const currentWorkspace = () => workspaceId;

/** Called when a request finds the session gone (signed out elsewhere, expired). */
let onSignedOut: () => void = () => {};
export const whenSignedOut = (f: () => void) => { onSignedOut = f; };

export interface CallOptions<O extends Op> {
  path?: Record<string, string>;
  query?: QueryOf<O>;
  body?: BodyOf<O>;
}

export async function call<O extends Op>(_op: O, method: string, template: string, opts: CallOptions<O> = {}): Promise<Ok<O>> {
  let url = template.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(opts.path?.[k] ?? ''));
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries((opts.query ?? {}) as Record<string, unknown>)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  if ([...q].length) url += `?${q}`;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  if (workspaceId && !template.startsWith('/v1/workspaces') && !template.startsWith('/v1/user')) headers['press-workspace'] = workspaceId;
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  const res = await fetch(url, { method, headers, body, credentials: 'same-origin' });
  if (res.status === 204) return undefined as Ok<O>;
  const json = await res.json().catch(() => null);
  if (!res.ok) {
    const code = json?.error ?? 'http_error';
    if (res.status === 401 && (code === 'session_expired' || code === 'invalid_session' || code === 'missing_authorization')) onSignedOut();
    throw new ApiError(res.status, code, json?.message ?? `HTTP ${res.status}`);
  }
  return json as Ok<O>;
}

/** One page of a cursor-paginated list (spec §1). */
export type Page<O extends Op> = Ok<O> extends { items: infer I; nextCursor: string | null } ? { items: I; nextCursor: string | null } : never;
