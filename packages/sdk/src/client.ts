import { PressCloudError, PressCloudTimeoutError } from './errors.js';
import { sleep, Transport } from './transport.js';
import type { DeployDirectoryOptions, DeployDirectoryResult } from './node/deploy-directory.js';
import type { CreateRenderJobInput, JsonBody, Page, QueryParams, RenderJob } from './types.js';

export interface PressCloudOptions {
  /** API base URL without `/v1`; default `process.env.PRESS_CLOUD_API` */
  apiBase?: string;
  /** API key `pcak_…`; default `process.env.PRESS_CLOUD_TOKEN` */
  token?: string;
  /** fetch implementation; default the global `fetch` */
  fetch?: typeof fetch;
  /** retries after a failed attempt (network errors, 429, 5xx); default 3 */
  maxRetries?: number;
  /** first backoff step in ms; default 500 */
  retryBaseDelayMs?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface CreateOptions extends CallOptions {
  /** defaults to a new random UUID per call, reused by the call's retries, so a retried create never duplicates */
  idempotencyKey?: string;
}

export interface RenderOptions extends CreateOptions {
  /**
   * How long to wait for the job to end: `true` (default) = 10 minutes, a number = seconds, `false` = return the
   * queued job at once. Waiting uses `?wait=` long-polls and falls back to polling with backoff.
   */
  wait?: boolean | number;
  /** render through `POST /v1/deploys/{deployId}/render-jobs` instead of `/v1/render-jobs` */
  deployId?: string;
  /** called with the job whenever a new state of it is seen */
  onUpdate?: (job: RenderJob) => void;
}

export interface DownloadOptions extends CallOptions {
  /** write the PDF to this file (parent directories created) instead of returning a stream */
  to?: string;
}

const TERMINAL: ReadonlySet<RenderJob['status']> = new Set(['succeeded', 'failed', 'canceled']);
const DEFAULT_WAIT_S = 600;
const MAX_LONG_POLL_S = 60;

/** Reads an environment variable where there is a `process` (Node, Deno, Bun); undefined in browsers. */
function env(name: string): string | undefined {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return p?.env?.[name] || undefined;
}

/** A fresh Idempotency-Key (Web Crypto: Node ≥ 19 and browsers). */
export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

export function isTerminal(job: Pick<RenderJob, 'status'>): boolean {
  return TERMINAL.has(job.status);
}

/**
 * Typed client for the Press Cloud `/v1` API. One method per endpoint, grouped by resource; every method is typed
 * by the OpenAPI document (`schema.d.ts`). High-level helpers: `deployDirectory`, `render`, `download`.
 */
export class PressCloud {
  readonly apiBase: string;
  /** the typed transport, for calls the resource groups do not wrap */
  readonly http: Transport;

  constructor(opts: PressCloudOptions = {}) {
    const apiBase = opts.apiBase ?? env('PRESS_CLOUD_API');
    if (!apiBase) throw new TypeError('PressCloud needs an apiBase (or the PRESS_CLOUD_API environment variable)');
    const fetchImpl = opts.fetch ?? globalThis.fetch;
    this.apiBase = apiBase.replace(/\/+$/, '');
    this.http = new Transport({
      apiBase: this.apiBase,
      token: opts.token ?? env('PRESS_CLOUD_TOKEN'),
      fetch: (input, init) => fetchImpl(input, init),
      maxRetries: opts.maxRetries ?? 3,
      retryBaseDelayMs: opts.retryBaseDelayMs,
    });
  }

  readonly account = {
    get: (o: CallOptions = {}) => this.http.request('get', '/v1/account', o),
    update: (body: JsonBody<'/v1/account', 'patch'>, o: CallOptions = {}) => this.http.request('patch', '/v1/account', { ...o, body }),
  };

  readonly apiKeys = {
    list: (query: QueryParams<'/v1/api-keys', 'get'> = {}, o: CallOptions = {}) => this.http.request('get', '/v1/api-keys', { ...o, query }),
    create: (body: JsonBody<'/v1/api-keys', 'post'>, o: CreateOptions = {}) =>
      this.http.request('post', '/v1/api-keys', { ...o, body, headers: { 'idempotency-key': o.idempotencyKey ?? newIdempotencyKey() } }),
    disable: (keyId: string, o: CallOptions = {}) => this.http.request('delete', '/v1/api-keys/{keyId}', { ...o, path: { keyId } }),
    /** deletes the key for good: its next request answers 401 invalid_api_key */
    delete: (keyId: string, o: CallOptions = {}) =>
      this.http.request('delete', '/v1/api-keys/{keyId}', { ...o, path: { keyId }, query: { permanent: true } }),
    /** `{disabled: false}` enables a disabled key again */
    update: (keyId: string, body: JsonBody<'/v1/api-keys/{keyId}', 'patch'>, o: CallOptions = {}) =>
      this.http.request('patch', '/v1/api-keys/{keyId}', { ...o, path: { keyId }, body, retry: 'safe' }),
  };

  readonly deploys = {
    create: (body: JsonBody<'/v1/deploys', 'post'>, o: CreateOptions = {}) =>
      this.http.request('post', '/v1/deploys', { ...o, body, headers: { 'idempotency-key': o.idempotencyKey ?? newIdempotencyKey() } }),
    list: (query: QueryParams<'/v1/deploys', 'get'> = {}, o: CallOptions = {}) => this.http.request('get', '/v1/deploys', { ...o, query }),
    get: (deployId: string, o: CallOptions = {}) => this.http.request('get', '/v1/deploys/{deployId}', { ...o, path: { deployId } }),
    update: (deployId: string, body: JsonBody<'/v1/deploys/{deployId}', 'patch'>, o: CallOptions = {}) =>
      this.http.request('patch', '/v1/deploys/{deployId}', { ...o, path: { deployId }, body, retry: 'safe' }),
    delete: (deployId: string, o: CallOptions = {}) => this.http.request('delete', '/v1/deploys/{deployId}', { ...o, path: { deployId } }),
  };

  readonly versions = {
    list: (deployId: string, query: QueryParams<'/v1/deploys/{deployId}/versions', 'get'> = {}, o: CallOptions = {}) =>
      this.http.request('get', '/v1/deploys/{deployId}/versions', { ...o, path: { deployId }, query }),
    get: (deployId: string, deployVersionId: string, o: CallOptions = {}) =>
      this.http.request('get', '/v1/deploys/{deployId}/versions/{deployVersionId}', { ...o, path: { deployId, deployVersionId } }),
    files: (deployId: string, deployVersionId: string, query: QueryParams<'/v1/deploys/{deployId}/versions/{deployVersionId}/files', 'get'> = {}, o: CallOptions = {}) =>
      this.http.request('get', '/v1/deploys/{deployId}/versions/{deployVersionId}/files', { ...o, path: { deployId, deployVersionId }, query }),
  };

  readonly aliases = {
    list: (deployId: string, o: CallOptions = {}) => this.http.request('get', '/v1/deploys/{deployId}/aliases', { ...o, path: { deployId } }),
    set: (deployId: string, alias: string, deployVersionId: string, o: CallOptions = {}) =>
      this.http.request('put', '/v1/deploys/{deployId}/aliases/{alias}', { ...o, path: { deployId, alias }, body: { deployVersionId } }),
    delete: (deployId: string, alias: string, o: CallOptions = {}) =>
      this.http.request('delete', '/v1/deploys/{deployId}/aliases/{alias}', { ...o, path: { deployId, alias } }),
  };

  readonly settings = {
    get: (deployId: string, o: CallOptions = {}) => this.http.request('get', '/v1/deploys/{deployId}/settings', { ...o, path: { deployId } }),
    /** `env`/`secrets` values replace the named entries (null deletes); other names are left alone */
    update: (deployId: string, body: JsonBody<'/v1/deploys/{deployId}/settings', 'patch'>, o: CallOptions = {}) =>
      this.http.request('patch', '/v1/deploys/{deployId}/settings', {
        ...o, path: { deployId }, body,
        // setting values is idempotent; rotating a signing secret is not
        retry: body.webhook?.signingSecretAction ? 'rejected-only' : 'safe',
      }),
  };

  readonly uploads = {
    create: (body: JsonBody<'/v1/upload-sessions', 'post'>, o: CreateOptions = {}) =>
      this.http.request('post', '/v1/upload-sessions', { ...o, body, headers: { 'idempotency-key': o.idempotencyKey ?? newIdempotencyKey() } }),
    get: (uploadSessionId: string, o: CallOptions = {}) =>
      this.http.request('get', '/v1/upload-sessions/{uploadSessionId}', { ...o, path: { uploadSessionId } }),
    missingBlobs: (uploadSessionId: string, uploadToken: string, body: JsonBody<'/v1/upload-sessions/{uploadSessionId}/missing-blobs', 'post'> = {}, o: CallOptions = {}) =>
      this.http.request('post', '/v1/upload-sessions/{uploadSessionId}/missing-blobs', {
        ...o, path: { uploadSessionId }, headers: { 'x-upload-token': uploadToken }, body, retry: 'safe',
      }),
    /** raw bytes (or a function producing them per attempt, so retries re-read the source) */
    putBlob: (uploadSessionId: string, uploadToken: string, sha256: string, bytes: Uint8Array | (() => Promise<Uint8Array>), o: CallOptions = {}) =>
      this.http.request('put', '/v1/upload-sessions/{uploadSessionId}/blobs/{sha256}', {
        ...o, path: { uploadSessionId, sha256 }, headers: { 'x-upload-token': uploadToken }, body: bytes,
      }),
    commit: (uploadSessionId: string, uploadToken: string, body: JsonBody<'/v1/upload-sessions/{uploadSessionId}/commit', 'post'> = {}, o: CallOptions = {}) =>
      this.http.request('post', '/v1/upload-sessions/{uploadSessionId}/commit', {
        ...o, path: { uploadSessionId }, headers: { 'x-upload-token': uploadToken }, body,
      }),
  };

  readonly renderJobs = {
    /** 202 `{accepted, queue, job}`; `wait` (≤ 60 s) holds the answer until the job ends */
    create: (body: CreateRenderJobInput, o: CreateOptions & { wait?: number } = {}) =>
      this.http.request('post', '/v1/render-jobs', {
        signal: o.signal, body, query: { wait: o.wait }, headers: { 'idempotency-key': o.idempotencyKey ?? newIdempotencyKey() },
      }),
    createForDeploy: (deployId: string, body: JsonBody<'/v1/deploys/{deployId}/render-jobs', 'post'>, o: CreateOptions & { wait?: number } = {}) =>
      this.http.request('post', '/v1/deploys/{deployId}/render-jobs', {
        signal: o.signal, path: { deployId }, body, query: { wait: o.wait },
        headers: { 'idempotency-key': o.idempotencyKey ?? newIdempotencyKey() },
      }),
    list: (query: QueryParams<'/v1/render-jobs', 'get'> = {}, o: CallOptions = {}) => this.http.request('get', '/v1/render-jobs', { ...o, query }),
    get: (jobId: string, o: CallOptions & { wait?: number } = {}) =>
      this.http.request('get', '/v1/render-jobs/{jobId}', { signal: o.signal, path: { jobId }, query: { wait: o.wait } }),
    cancel: (jobId: string, o: CallOptions = {}) =>
      this.http.request('post', '/v1/render-jobs/{jobId}/cancel', { ...o, path: { jobId }, body: {}, retry: 'safe' }),
    delete: (jobId: string, o: CallOptions = {}) => this.http.request('delete', '/v1/render-jobs/{jobId}', { ...o, path: { jobId } }),
    /** the PDF as a `Response` (stream it from `.body`) */
    output: (jobId: string, o: CallOptions = {}) => this.http.raw('get', '/v1/render-jobs/{jobId}/output', { ...o, path: { jobId } }),
    deleteOutput: (jobId: string, o: CallOptions = {}) =>
      this.http.request('delete', '/v1/render-jobs/{jobId}/output', { ...o, path: { jobId } }),
    downloadLink: (jobId: string, body: JsonBody<'/v1/render-jobs/{jobId}/output/download', 'post'> = {}, o: CallOptions = {}) =>
      this.http.request('post', '/v1/render-jobs/{jobId}/output/download', { ...o, path: { jobId }, body, retry: 'safe' }),
    previewLink: (jobId: string, body: JsonBody<'/v1/render-jobs/{jobId}/output/preview', 'post'> = {}, o: CallOptions = {}) =>
      this.http.request('post', '/v1/render-jobs/{jobId}/output/preview', { ...o, path: { jobId }, body, retry: 'safe' }),
  };

  readonly pdfs = {
    list: (query: QueryParams<'/v1/pdfs', 'get'> = {}, o: CallOptions = {}) => this.http.request('get', '/v1/pdfs', { ...o, query }),
    get: (pdfId: string, o: CallOptions = {}) => this.http.request('get', '/v1/pdfs/{pdfId}', { ...o, path: { pdfId } }),
    delete: (pdfId: string, o: CallOptions = {}) => this.http.request('delete', '/v1/pdfs/{pdfId}', { ...o, path: { pdfId } }),
    /** the PDF as a `Response` (stream it from `.body`) */
    content: (pdfId: string, o: CallOptions = {}) => this.http.raw('get', '/v1/pdfs/{pdfId}/content', { ...o, path: { pdfId } }),
    downloadLink: (pdfId: string, body: JsonBody<'/v1/pdfs/{pdfId}/download', 'post'> = {}, o: CallOptions = {}) =>
      this.http.request('post', '/v1/pdfs/{pdfId}/download', { ...o, path: { pdfId }, body, retry: 'safe' }),
    previewLink: (pdfId: string, body: JsonBody<'/v1/pdfs/{pdfId}/preview', 'post'> = {}, o: CallOptions = {}) =>
      this.http.request('post', '/v1/pdfs/{pdfId}/preview', { ...o, path: { pdfId }, body, retry: 'safe' }),
  };

  readonly members = {
    list: (query: QueryParams<'/v1/members', 'get'> = {}, o: CallOptions = {}) => this.http.request('get', '/v1/members', { ...o, query }),
    update: (userId: string, body: JsonBody<'/v1/members/{userId}', 'patch'>, o: CallOptions = {}) =>
      this.http.request('patch', '/v1/members/{userId}', { ...o, path: { userId }, body, retry: 'safe' }),
    remove: (userId: string, o: CallOptions = {}) => this.http.request('delete', '/v1/members/{userId}', { ...o, path: { userId } }),
  };

  readonly invitations = {
    /** the answer holds the invitation link once; it is e-mailed too when the server has SMTP */
    create: (body: JsonBody<'/v1/invitations', 'post'>, o: CallOptions = {}) => this.http.request('post', '/v1/invitations', { ...o, body }),
    list: (query: QueryParams<'/v1/invitations', 'get'> = {}, o: CallOptions = {}) => this.http.request('get', '/v1/invitations', { ...o, query }),
    revoke: (invitationId: string, o: CallOptions = {}) =>
      this.http.request('delete', '/v1/invitations/{invitationId}', { ...o, path: { invitationId } }),
  };

  readonly auditLogs = {
    list: (query: QueryParams<'/v1/audit-logs', 'get'> = {}, o: CallOptions = {}) => this.http.request('get', '/v1/audit-logs', { ...o, query }),
  };

  readonly usage = {
    get: (o: CallOptions = {}) => this.http.request('get', '/v1/usage', o),
    /** the meters per UTC day of the current bill period */
    daily: (o: CallOptions = {}) => this.http.request('get', '/v1/usage/daily', o),
  };

  readonly webhookDeliveries = {
    list: (deployId: string, query: QueryParams<'/v1/deploys/{deployId}/webhook-deliveries', 'get'> = {}, o: CallOptions = {}) =>
      this.http.request('get', '/v1/deploys/{deployId}/webhook-deliveries', { ...o, path: { deployId }, query }),
    /** 202 `{delivery, created}`: one more attempt of the delivery's event (a pending one is made due now instead) */
    redeliver: (deployId: string, deliveryId: string, o: CreateOptions = {}) =>
      this.http.request('post', '/v1/deploys/{deployId}/webhook-deliveries/{deliveryId}/redeliver', {
        ...o, path: { deployId, deliveryId }, headers: { 'idempotency-key': o.idempotencyKey ?? newIdempotencyKey() },
      }),
  };

  /** Every item of a paginated list, following `nextCursor`: `paginate((cursor) => client.deploys.list({cursor}))`. */
  async *paginate<T>(page: (cursor: string | undefined) => Promise<Page<T>>): AsyncGenerator<T> {
    let cursor: string | undefined;
    do {
      const p = await page(cursor);
      yield* p.items;
      cursor = p.nextCursor ?? undefined;
    } while (cursor);
  }

  /**
   * Deploy a local directory (Node only): hashes files in a stream, uploads only the blobs the server lacks
   * (concurrently, with retries), commits a version. Into `deployId`, or the deploy with `slug` (created, named
   * `name`, when the account has none).
   */
  async deployDirectory(dir: string, opts: DeployDirectoryOptions): Promise<DeployDirectoryResult> {
    const { deployDirectory } = await import('./node/deploy-directory.js');
    return deployDirectory(this, dir, opts);
  }

  /**
   * Create a render job and wait for it to end; returns the job (check `status`: `succeeded`, `failed` with
   * `error`, or `canceled`). Throws `PressCloudTimeoutError` when `wait` runs out first.
   */
  async render(input: CreateRenderJobInput, opts: RenderOptions = {}): Promise<RenderJob> {
    const waitS = opts.wait === false ? 0 : opts.wait === true || opts.wait === undefined ? DEFAULT_WAIT_S : opts.wait;
    const deadline = Date.now() + waitS * 1000;
    const left = () => Math.max(0, Math.floor((deadline - Date.now()) / 1000));
    const create = { signal: opts.signal, idempotencyKey: opts.idempotencyKey ?? newIdempotencyKey(), wait: Math.min(MAX_LONG_POLL_S, left()) || undefined };
    let { job } = opts.deployId
      ? await this.renderJobs.createForDeploy(opts.deployId, input, create)
      : await this.renderJobs.create(input, create);
    opts.onUpdate?.(job);
    if (waitS === 0) return job;

    // Long-poll; a server (or proxy) that answers early without the job having ended gets polled with backoff.
    let polling = false;
    for (let round = 0; !isTerminal(job); round++) {
      const budget = left();
      if (budget <= 0) throw new PressCloudTimeoutError(`render job ${job.id} is still ${job.status} after ${waitS} s`, job);
      const asked = polling ? 0 : Math.min(MAX_LONG_POLL_S, budget);
      const started = Date.now();
      if (polling) await sleep(Math.min(5_000, 500 * 2 ** Math.min(round, 4), Math.max(0, deadline - Date.now())), opts.signal);
      ({ job } = await this.renderJobs.get(job.id, { signal: opts.signal, wait: asked || undefined }));
      opts.onUpdate?.(job);
      if (!polling && !isTerminal(job) && Date.now() - started < (asked - 1) * 1000) {
        polling = true;
      }
    }
    return job;
  }

  /**
   * The PDF of a render job (`rj_…`) or a managed PDF (`pdf_…`): a web `ReadableStream`, or with `to`, written to
   * that file (Node only) → `{path, bytes}`.
   */
  download(id: string, opts?: CallOptions & { to?: undefined }): Promise<ReadableStream<Uint8Array>>;
  download(id: string, opts: DownloadOptions & { to: string }): Promise<{ path: string; bytes: number }>;
  async download(id: string, opts: DownloadOptions = {}): Promise<ReadableStream<Uint8Array> | { path: string; bytes: number }> {
    const res = id.startsWith('pdf_')
      ? await this.pdfs.content(id, { signal: opts.signal })
      : await this.renderJobs.output(id, { signal: opts.signal });
    if (!res.body) throw new PressCloudError({ status: res.status, code: 'empty_response', message: `GET ${id} answered no body` });
    if (opts.to === undefined) return res.body;
    const { writeStreamToFile } = await import('./node/write-file.js');
    return writeStreamToFile(res.body, opts.to);
  }
}
