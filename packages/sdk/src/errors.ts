import type { RenderJob } from './types.js';

export interface PressCloudErrorInit {
  status: number;
  code: string;
  message: string;
  retryAfter?: number | null;
  requestId?: string | null;
  cause?: unknown;
}

/**
 * Every failure the SDK reports. For API errors `status` is the HTTP status and `code` the server's error code
 * (`{"error": code, "message": ...}`); `retryAfter` is the `Retry-After` header in seconds (429/503), `requestId`
 * the `X-Request-Id` to quote in a support request. Failures without an answer have `status` 0 and the code
 * `network_error` (connection refused, reset, DNS) or `timeout` (a wait that ran out, see `PressCloudTimeoutError`).
 */
export class PressCloudError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfter: number | null;
  readonly requestId: string | null;

  constructor(init: PressCloudErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'PressCloudError';
    this.status = init.status;
    this.code = init.code;
    this.retryAfter = init.retryAfter ?? null;
    this.requestId = init.requestId ?? null;
  }
}

/** `render()` (or a wait) ran out of time before the job ended; `job` is its last known state. */
export class PressCloudTimeoutError extends PressCloudError {
  constructor(
    message: string,
    readonly job: RenderJob,
  ) {
    super({ status: 0, code: 'timeout', message });
    this.name = 'PressCloudTimeoutError';
  }
}

/** Seconds from a `Retry-After` header (delta-seconds or an HTTP date), or null. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The PressCloudError an unsuccessful response means; reads (and so releases) its body. */
export async function errorFromResponse(res: Response, what: string): Promise<PressCloudError> {
  const text = await res.text().catch(() => '');
  let code = `http_${res.status}`;
  let message = `${what} answered ${res.status} ${res.statusText}`.trim();
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (typeof body.error === 'string') code = body.error;
    if (typeof body.message === 'string') message = body.message;
  } catch {
    // not JSON (a proxy's error page): keep the generic message
  }
  return new PressCloudError({
    status: res.status,
    code,
    message,
    retryAfter: parseRetryAfter(res.headers.get('retry-after')),
    requestId: res.headers.get('x-request-id'),
  });
}
