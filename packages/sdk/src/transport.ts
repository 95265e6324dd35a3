import type { paths } from './schema.js';
import { errorFromResponse, PressCloudError } from './errors.js';
import type { HttpMethod, Ok, PathsFor, RequestInit, RetryMode } from './types.js';

export interface TransportOptions {
  apiBase: string;
  token?: string;
  fetch: typeof fetch;
  /** retries after the first attempt (network errors, 429, 5xx); default 3 */
  maxRetries: number;
  /** first backoff step in ms (doubled per retry, ±50 % jitter, capped at 8 s); default 500 */
  retryBaseDelayMs?: number;
  /** a 429/503 asking to wait longer than this (seconds) is reported at once instead; default 60 */
  maxRetryAfterSeconds?: number;
}

/** How long a retry answered `409 idempotency_key_in_use` keeps trying: the first request may hold a 60 s `?wait=`. */
const IN_USE_BUDGET_MS = 75_000;
const IN_USE_DELAY_MS = 1_000;
const MAX_BACKOFF_MS = 8_000;

type AnyInit = {
  path?: Record<string, string | number>;
  query?: Record<string, string | number | boolean | null | undefined>;
  headers?: Record<string, string | undefined>;
  body?: unknown;
  signal?: AbortSignal;
  retry?: RetryMode;
};

/** `[init]` is optional when nothing in it is required. */
export type InitArgs<P extends keyof paths, M extends HttpMethod> = {} extends RequestInit<P, M>
  ? [init?: RequestInit<P, M>]
  : [init: RequestInit<P, M>];

/**
 * A small typed layer over `fetch`: method, path, parameters and body are checked against the generated `paths`,
 * errors become `PressCloudError`, and failures are retried with exponential backoff and jitter.
 *
 * Retry policy: a request is *safe* to send again when it is a GET/PUT/DELETE, carries an `Idempotency-Key`
 * (the server replays the first answer), or is marked `retry: 'safe'`. Safe requests are retried on network errors,
 * 429 and 5xx; others only on 429 (the server refused before doing anything). A body the server refused is never
 * sent again: a 4xx (413 `*_too_large`) is not retried, and neither is a connection closed while the body was still
 * being written (EPIPE). `Retry-After` is honoured. A retry of
 * an idempotent create that meets `409 idempotency_key_in_use` (the first attempt is still running on the server)
 * waits and asks again. (openapi-fetch was considered: its middleware cannot re-send a request, and this is all the
 * client needs.)
 */
export class Transport {
  readonly apiBase: string;
  private readonly token: string | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly maxRetries: number;
  private readonly baseDelayMs: number;
  private readonly maxRetryAfter: number;

  constructor(opts: TransportOptions) {
    this.apiBase = opts.apiBase.replace(/\/+$/, '');
    this.token = opts.token;
    this.fetchImpl = opts.fetch;
    this.maxRetries = Math.max(0, opts.maxRetries);
    this.baseDelayMs = opts.retryBaseDelayMs ?? 500;
    this.maxRetryAfter = opts.maxRetryAfterSeconds ?? 60;
  }

  /** A JSON operation: the parsed 2xx body (undefined for 204). */
  async request<M extends HttpMethod, P extends PathsFor<M>>(method: M, path: P, ...[init]: InitArgs<P, M>): Promise<Ok<P, M>> {
    const res = await this.raw(method, path, ...([init] as InitArgs<P, M>));
    if (res.status === 204) {
      await res.body?.cancel();
      return undefined as Ok<P, M>;
    }
    return (await res.json()) as Ok<P, M>;
  }

  /** Any operation, answering the successful `Response` with its body unread (binary downloads). */
  async raw<M extends HttpMethod, P extends PathsFor<M>>(method: M, path: P, ...[init]: InitArgs<P, M>): Promise<Response> {
    const i = (init ?? {}) as AnyInit;
    const url = this.url(path, i);
    const what = `${method.toUpperCase()} ${url.pathname}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    for (const [k, v] of Object.entries(i.headers ?? {})) if (v !== undefined) headers[k] = v;
    const binary = i.body instanceof Uint8Array || typeof i.body === 'function';
    if (i.body !== undefined) headers['content-type'] = binary ? 'application/octet-stream' : 'application/json';
    const json = i.body !== undefined && !binary ? JSON.stringify(i.body) : undefined;

    const idempotent = headers['idempotency-key'] !== undefined;
    const safe = (i.retry ?? (method === 'post' || method === 'patch' ? 'rejected-only' : 'safe')) === 'safe' || idempotent;
    const inUseUntil = Date.now() + IN_USE_BUDGET_MS;

    let sent = 0;
    let retries = 0;
    for (;;) {
      const retriesLeft = retries < this.maxRetries;
      // a body factory runs per attempt (a blob is re-read from disk); its own failure is not a network error
      const bytes = typeof i.body === 'function' ? await (i.body as () => Promise<Uint8Array>)() : (i.body as Uint8Array | undefined);
      // (lib.dom's BodyInit wants an ArrayBuffer-backed view; Node's Buffer and any Uint8Array are accepted by fetch)
      const body = json ?? (bytes as BodyInit | undefined);
      let res: Response;
      try {
        sent++;
        res = await this.fetchImpl(url, { method: method.toUpperCase(), headers, body, signal: i.signal });
      } catch (err) {
        if (i.signal?.aborted) throw err;
        // the server closed the connection while the body was still going out: it refused the body (too large, or
        // answered early), and sending it again cannot succeed
        const refused = body !== undefined && hasCode(err, 'EPIPE');
        if (safe && retriesLeft && !refused) {
          await sleep(this.backoff(retries++), i.signal);
          continue;
        }
        throw new PressCloudError({
          status: 0,
          code: 'network_error',
          message: `${what} failed: ${describe(err)}`,
          cause: err,
        });
      }
      if (res.ok) return res;

      const error = await errorFromResponse(res, what);
      // Our own earlier attempt is still running on the server (e.g. holding a ?wait=): not a failure, wait for it.
      if (idempotent && error.code === 'idempotency_key_in_use' && sent > 1 && Date.now() < inUseUntil) {
        await sleep(IN_USE_DELAY_MS, i.signal);
        continue;
      }
      const retryable = res.status === 429 || (safe && res.status >= 500);
      const tooLong = error.retryAfter !== null && error.retryAfter > this.maxRetryAfter;
      if (retryable && retriesLeft && !tooLong) {
        const delay = error.retryAfter !== null ? error.retryAfter * 1000 + jitter(250) : this.backoff(retries);
        retries++;
        await sleep(delay, i.signal);
        continue;
      }
      throw error;
    }
  }

  private url(path: string, init: AnyInit): URL {
    const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const v = init.path?.[name];
      if (v === undefined) throw new TypeError(`missing path parameter ${name} for ${path}`);
      return encodeURIComponent(String(v));
    });
    const url = new URL(this.apiBase + filled);
    for (const [k, v] of Object.entries(init.query ?? {})) if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    return url;
  }

  /** Exponential backoff with jitter: base·2^attempt, scaled by 0.5–1.0, capped. */
  backoff(attempt: number): number {
    const exp = Math.min(MAX_BACKOFF_MS, this.baseDelayMs * 2 ** attempt);
    return Math.round(exp * (0.5 + Math.random() / 2));
  }
}

function hasCode(err: unknown, code: string): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === code) return true;
  }
  return false;
}

function jitter(ms: number) {
  return Math.round(Math.random() * ms);
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
