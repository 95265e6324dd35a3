import { RenderError } from '../renderer.js';
import type { BlockedRequestReason, RenderRequest } from '../renderer.js';
import type { PageJob } from './browser-pool.js';
import { DiagnosticsCollector, diagnosticUrl, errorLocation } from './diagnostics.js';
import { OutboundRefusedError } from '../outbound/port.js';
import type { Outbound } from '../outbound/port.js';
import { APP_ORIGIN, DATA_ORIGIN } from './page-runtime.js';
import { redactPageText } from './logger.js';
import type { Logger } from '../logger.js';
import type { ProxiedRequest, ProxyAnswer } from './guard-proxy.js';

export interface SessionOptions {
  outbound: Outbound;
  maxExternalResponseBytes: number;
  logger: Logger;
}

const NO_STORE = 'no-store';

/** Path inside the version for an app-origin URL path, or null when it can't be decoded. */
export function versionPath(pathname: string): string | null {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  path = path.replace(/^\/+/, '');
  // Static-site convention: a directory URL means its index.html.
  if (path === '' || path.endsWith('/')) path += 'index.html';
  return path;
}

/** URL of a version path on the app origin, each segment percent-encoded (so `a b.html` round-trips). */
export function appUrl(path: string): string {
  return `${APP_ORIGIN}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * Everything one render needs while its page is loading: it answers the page's requests (version files,
 * payload, environment, sandboxed external requests), counts the requests it is answering (readiness), collects
 * the page's diagnostics, and carries the abort signal that timeouts, cancellation and crashes trip.
 */
export class RenderSession implements PageJob {
  /** aborted with the RenderError that ends the render */
  readonly controller = new AbortController();
  /** requests being answered (any origin, any context of the page, workers included) */
  pending = 0;
  readonly diagnostics: DiagnosticsCollector;
  /** where the page last tried to take its main document outside the internal origins (refused) */
  blockedNavigation: string | null = null;
  /** external origins whose responses reached the page; their storage is wiped with the page's */
  readonly externalOrigins = new Set<string>();
  private idleWaiters: Array<() => void> = [];
  private finished = false;

  constructor(
    private readonly req: RenderRequest,
    private readonly opts: SessionOptions,
  ) {
    this.diagnostics = new DiagnosticsCollector(req.secrets);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** End the render with `error` (first one wins). */
  fail(error: RenderError): void {
    if (!this.controller.signal.aborted) this.controller.abort(error);
  }

  /** Stop answering: later requests of the page are refused. */
  finish(): void {
    this.finished = true;
    this.fail(new RenderError('render_internal_error', 'render finished'));
    this.wakeIdle();
  }

  /** Resolves when no request is being answered. */
  whenIdle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  // ---- PageJob --------------------------------------------------------------------------------------------

  pageCrashed(): void {
    this.fail(new RenderError('render_page_crashed', 'the page crashed while rendering', true));
  }

  browserGone(): void {
    this.fail(new RenderError('render_internal_error', 'the browser crashed while rendering', true));
  }

  resourceLimit(message: string): void {
    this.fail(new RenderError('render_resource_limit', message, false));
  }

  console(type: string, text: string, location?: { url: string; lineNumber: number }): void {
    this.opts.logger.debug(
      { jobId: this.req.jobId, type, text: redactPageText(text, this.req.secrets) },
      'page console',
    );
    if (type !== 'error' && type !== 'warning') return;
    if (!this.diagnostics.has('console')) return this.diagnostics.omit();
    this.diagnostics.add('console', {
      level: type,
      text: this.diagnostics.text(text),
      source: location?.url ? diagnosticUrl(location.url) : null,
      // Playwright's lineNumber is 0-based
      line: location?.url ? location.lineNumber + 1 : null,
    });
  }

  pageError(error: Error): void {
    const message = error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
    this.opts.logger.debug({ jobId: this.req.jobId, text: redactPageText(message, this.req.secrets) }, 'page error');
    if (!this.diagnostics.has('pageErrors')) return this.diagnostics.omit();
    this.diagnostics.add('pageErrors', { message: this.diagnostics.text(message), ...errorLocation(error.stack) });
  }

  /** Answers one of the page's requests (its context's proxy hands over every request while the render runs). */
  async serve(req: ProxiedRequest): Promise<ProxyAnswer> {
    this.pending++;
    // Counted until the answer is on its way to the browser, not merely decided.
    void req.sent.then(() => {
      this.pending--;
      if (this.pending === 0) this.wakeIdle();
    });
    return this.answer(req);
  }

  /** A request the network policy refused: logged (as far as diagnostics keep them) and kept. */
  private blocked(url: string, reason: BlockedRequestReason): ProxyAnswer {
    if (this.diagnostics.has('blockedRequests')) {
      // By origin only: paths and queries can carry tokens.
      this.opts.logger.info({ jobId: this.req.jobId, origin: safeOrigin(new URL(url)), reason }, 'external request blocked');
    }
    this.diagnostics.add('blockedRequests', { url: diagnosticUrl(url), reason });
    return 'refused';
  }

  private failed(url: string, status: number | null, error: string | null): void {
    this.diagnostics.add('failedRequests', { url: diagnosticUrl(url), status, error });
  }

  private async answer(req: ProxiedRequest): Promise<ProxyAnswer> {
    if (this.finished) return 'refused';
    const url = req.url;
    if (url.origin === APP_ORIGIN || url.origin === DATA_ORIGIN) return this.internal(req);
    // The document being printed must stay ours: no main-frame navigation elsewhere, allowed network or not.
    // (Chromium sends Sec-Fetch-Dest to https origins; a plain-http navigation elsewhere still fails the render
    // when waitReady finds the page off the app origin.)
    if (req.headers['sec-fetch-dest'] === 'document') {
      this.blockedNavigation = diagnosticUrl(url.href);
      return this.blocked(url.href, 'navigation_not_allowed');
    }
    return this.external(req);
  }

  // ---- internal origins -----------------------------------------------------------------------------------

  private async internal(req: ProxiedRequest): Promise<ProxyAnswer> {
    try {
      return req.url.origin === APP_ORIGIN ? await this.serveFile(req) : this.serveData(req);
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      // A file the version has but storage can't produce: the PDF would silently miss it, so fail (retryably).
      this.opts.logger.warn({ jobId: this.req.jobId, err: String(err.cause) }, 'storage error serving a file');
      this.fail(new RenderError('render_internal_error', 'storage error while serving the deploy version', true));
      return 'refused';
    }
  }

  private async serveFile(req: ProxiedRequest): Promise<ProxyAnswer> {
    const { method, url } = req;
    if (method !== 'GET' && method !== 'HEAD') return plain(405, 'method not allowed');
    const path = versionPath(url.pathname);
    if (path === null) return plain(400, 'bad path');
    let body: Buffer;
    let mime: string;
    try {
      const file = await this.req.files.get(path);
      if (!file) {
        this.failed(url.href, 404, null);
        return plain(404, 'not found');
      }
      mime = file.mime;
      body = await this.req.files.open(file);
    } catch (err) {
      throw new StorageError(err);
    }
    if (this.finished) return 'refused';
    return { status: 200, headers: { 'content-type': mime, 'cache-control': NO_STORE }, body };
  }

  private serveData(req: ProxiedRequest): ProxyAnswer {
    // CORS keeps other origins (external frames) from reading these; also refuse them outright.
    if (!fromAppDocument(req)) return plain(403, 'forbidden');
    const cors = { 'access-control-allow-origin': APP_ORIGIN, vary: 'origin', 'cache-control': NO_STORE };
    const { method, url } = req;
    if (method === 'OPTIONS') {
      return {
        status: 204,
        headers: {
          ...cors,
          'access-control-allow-methods': 'GET, HEAD',
          'access-control-allow-headers': String(req.headers['access-control-request-headers'] ?? '*'),
        },
      };
    }
    if (method !== 'GET' && method !== 'HEAD') return plain(405, 'method not allowed', cors);
    if (url.pathname === '/__payload') {
      const { body, mime } = this.req.payload;
      return { status: 200, headers: { ...cors, 'content-type': mime }, body };
    }
    if (url.pathname === '/environment.json') {
      const body = JSON.stringify({ env: this.req.env, secrets: this.req.secrets });
      return { status: 200, headers: { ...cors, 'content-type': 'application/json; charset=utf-8' }, body };
    }
    this.failed(url.href, 404, null);
    return plain(404, 'not found', cors);
  }

  // ---- everything else ------------------------------------------------------------------------------------

  private async external(req: ProxiedRequest): Promise<ProxyAnswer> {
    const url = req.url;
    // Logged by origin only: paths and queries can carry tokens.
    const origin = safeOrigin(url);
    if (!this.req.allowExternalNetwork) return this.blocked(url.href, 'external_network_not_allowed');
    try {
      const body = req.method === 'GET' || req.method === 'HEAD' ? null : await req.body();
      const response = await this.opts.outbound.request({
        url,
        method: req.method,
        headers: requestHeaders(req),
        body: body && body.length > 0 ? body : null,
        maxBytes: this.opts.maxExternalResponseBytes,
        signal: this.signal,
      });
      if (this.finished) return 'refused';
      this.externalOrigins.add(url.origin);
      if (response.status >= 400) this.failed(url.href, response.status, null);
      // Never kept in Chromium's HTTP cache: the context's next render must fetch (and be checked) again.
      return { status: response.status, headers: { ...response.headers, 'cache-control': NO_STORE }, body: response.body };
    } catch (err) {
      if (err instanceof OutboundRefusedError) {
        if (err.kind === 'unresolved') {
          this.failed(url.href, null, err.reason);
          return 'refused';
        }
        return this.blocked(url.href, err.kind === 'scheme' ? 'scheme_not_allowed' : 'address_not_allowed');
      }
      this.opts.logger.debug({ jobId: this.req.jobId, origin, err: String(err) }, 'external request failed');
      if (!this.finished) this.failed(url.href, null, errText(err));
      return 'refused';
    }
  }
}

class StorageError extends Error {
  constructor(readonly cause: unknown) {
    super('storage error');
  }
}

function errText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 200);
}

function safeOrigin(url: URL): string {
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol;
}

/** Whether the request comes from a document of the app origin (or an about: frame it created, which shares it). */
function fromAppDocument(req: ProxiedRequest): boolean {
  const origin = req.headers.origin;
  if (origin !== undefined) return origin === APP_ORIGIN;
  // No Origin (a same-origin GET, a navigation): the referrer says who asked.
  const referer = req.headers.referer;
  return typeof referer === 'string' && (referer === APP_ORIGIN || referer.startsWith(`${APP_ORIGIN}/`));
}

/** Headers the page's request carries onward to an external site (Outbound drops the hop-by-hop ones). */
function requestHeaders(req: ProxiedRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function plain(status: number, body: string, headers: Record<string, string> = {}): ProxyAnswer {
  return { status, headers: { ...headers, 'content-type': 'text/plain', 'cache-control': NO_STORE }, body };
}
