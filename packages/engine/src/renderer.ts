/**
 * The render engine as the rest of Press Cloud sees it: turn one deploy version (served from storage) plus a
 * job's payload, env and secrets into a PDF. The Chromium implementation is `chromium/`.
 */

/** One file of a deploy version or upload session, as recorded in its manifest (the server records these; the renderer reads them). */
export interface FileEntry {
  /** relative POSIX path inside the version, e.g. `assets/logo.png` (no leading slash) */
  path: string;
  /** lowercase hex sha256 of the bytes; lets the caller find the blob */
  sha256: string;
  /** size in bytes */
  size: number;
  /** served as the response's Content-Type */
  mime: string;
}

/** Read access to the files of the deploy version being rendered. */
export interface RenderFiles {
  /** The file at `path` (already percent-decoded, no leading slash), or null when the version has none (→ 404). */
  get(path: string): Promise<FileEntry | null>;
  /** The file's bytes. A rejection is treated as a storage failure (retryable `render_internal_error`). */
  open(file: FileEntry): Promise<Buffer>;
}

export interface RenderRequest {
  /** the render job's id; used in logs only */
  jobId: string;
  /** the tenant; browser contexts and pages are never shared across accounts */
  accountId: string;
  /** path of the document to open, e.g. `index.html`; served at `https://app.press.internal/<entry>` */
  entry: string;
  /** the deploy version's files, served at `https://app.press.internal/<path>` */
  files: RenderFiles;
  /** the job's payload, served at `https://p.press.internal/__payload` with `mime` as Content-Type */
  payload: { body: Buffer; mime: string };
  /** the deploy's env vars, served (with `secrets`) at `https://p.press.internal/environment.json` */
  env: Record<string, string>;
  /** the deploy's decrypted secrets; never logged */
  secrets: Record<string, string>;
  /**
   * Whether the page may reach the internet (plan policy). Even when true, loopback, private, link-local,
   * CGNAT, multicast and metadata addresses stay unreachable.
   */
  allowExternalNetwork: boolean;
  /**
   * Bound on the render in ms (plan `maxRenderTimeoutMs`): from the moment a render slot is free (waiting for
   * capacity doesn't count) to the finished PDF → `render_timeout`. Running out while the engine is still
   * getting a page (e.g. relaunching after a crash) is the engine's fault: retryable `render_internal_error`.
   */
  timeoutMs: number;
  /** larger PDFs fail with `render_output_too_large`; null = unlimited */
  maxOutputBytes: number | null;
  /** aborting it (job canceled) stops the render quickly with `render_canceled` */
  signal?: AbortSignal;
  /**
   * Playwright `page.pdf()` options over the defaults (printPdfOptions): press.toml's [playwright] options, from the
   * `press` CLI's local renders and from a render job's `pdfOptions` alike, so both print the same PDF.
   */
  pdfOptions?: PdfOptions;
}

/** The paper sizes `page.pdf({format})` knows. */
export const PAPER_FORMATS = ['Letter', 'Legal', 'Tabloid', 'Ledger', 'A0', 'A1', 'A2', 'A3', 'A4', 'A5', 'A6'] as const;

/**
 * What `page.pdf()` gets: backgrounds printed and the document's CSS page size (`@page { size }`) by default; a
 * format, width or height given here overrides the CSS page size unless `preferCSSPageSize` is set explicitly.
 */
export function printPdfOptions(options: PdfOptions = {}): PdfOptions {
  const sized = options.format !== undefined || options.width !== undefined || options.height !== undefined;
  return { preferCSSPageSize: !sized, printBackground: true, ...options };
}

export interface PdfOptions {
  format?: (typeof PAPER_FORMATS)[number];
  landscape?: boolean;
  margin?: { top?: string; right?: string; bottom?: string; left?: string };
  printBackground?: boolean;
  scale?: number;
  preferCSSPageSize?: boolean;
  width?: string;
  height?: string;
}

/** Milliseconds spent in each step of one render. */
export interface RenderTimings {
  /** waiting for a free render slot (renderer at capacity) */
  queueMs: number;
  /** getting a page: reused warm page (≈0), new page, or new browser after a crash */
  acquirePageMs: number;
  /** navigating to the entry until the document commits */
  navigateMs: number;
  /** from commit until the page is ready to print (§9.1 readiness) */
  readyMs: number;
  /** printing */
  pdfMs: number;
  /** parsing the PDF to count its pages */
  inspectMs: number;
  /** the whole `render()` call */
  totalMs: number;
}

/** An uncaught exception (or unhandled rejection) of the page. */
export interface PageErrorDiagnostic {
  message: string;
  /** script URL (without query) and 1-based line where it was thrown, when the error carries them */
  source: string | null;
  line: number | null;
}

export interface ConsoleDiagnostic {
  level: 'error' | 'warning';
  text: string;
  source: string | null;
  line: number | null;
}

/**
 * `external_network_not_allowed` (the plan has no external network), `address_not_allowed` (loopback, private,
 * link-local, metadata…), `scheme_not_allowed`, `navigation_not_allowed` (the main document leaving the version)
 */
export type BlockedRequestReason = 'external_network_not_allowed' | 'address_not_allowed' | 'scheme_not_allowed' | 'navigation_not_allowed';

export interface BlockedRequestDiagnostic {
  /** URL without query and fragment (they can carry tokens) */
  url: string;
  reason: BlockedRequestReason;
}

export interface FailedRequestDiagnostic {
  /** URL without query and fragment */
  url: string;
  /** the HTTP status (4xx/5xx), or null when no response came (`error` says why) */
  status: number | null;
  error: string | null;
}

/**
 * What went wrong inside the page during one render (spec §9.1), kept with the job. Each list keeps its first
 * `DIAGNOSTICS_MAX_ITEMS` items, all together at most `DIAGNOSTICS_MAX_BYTES` of JSON; `omitted` counts the
 * rest. Texts are truncated and the job's secrets masked.
 */
export interface RenderDiagnostics {
  pageErrors: PageErrorDiagnostic[];
  console: ConsoleDiagnostic[];
  blockedRequests: BlockedRequestDiagnostic[];
  failedRequests: FailedRequestDiagnostic[];
  omitted: number;
}

export const DIAGNOSTICS_MAX_ITEMS = 20;
export const DIAGNOSTICS_MAX_BYTES = 8 * 1024;

export function emptyDiagnostics(): RenderDiagnostics {
  return { pageErrors: [], console: [], blockedRequests: [], failedRequests: [], omitted: 0 };
}

export interface RenderResult {
  /** the PDF; the only copy the renderer holds — stream it to storage, don't copy it */
  pdf: Buffer;
  /** `pdf.length` */
  bytes: number;
  /** page count, parsed from the PDF */
  pageCount: number;
  timings: RenderTimings;
  diagnostics: RenderDiagnostics;
}

export type RenderErrorCode =
  | 'render_timeout'
  | 'render_entry_not_found'
  | 'render_navigation_failed'
  | 'render_output_too_large'
  | 'render_page_crashed'
  | 'render_resource_limit'
  | 'render_internal_error'
  | 'render_canceled';

/**
 * Why a render failed. `code` is the job's error code (spec §5; `render_canceled` is never shown as a failure —
 * the job is canceled). `retryable` is true only for infrastructure failures (browser or page crash, storage
 * error, engine not available), false for problems of the document itself.
 */
export class RenderError extends Error {
  /** what the page did wrong before the render failed; set by the renderer once the page is known */
  diagnostics: RenderDiagnostics | null = null;

  constructor(
    readonly code: RenderErrorCode,
    message: string,
    readonly retryable: boolean = RenderError.defaultRetryable(code),
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RenderError';
  }

  /** infrastructure failures retry; document failures and cancellation don't */
  static defaultRetryable(code: RenderErrorCode): boolean {
    return code === 'render_page_crashed' || code === 'render_internal_error';
  }
}

export interface RendererStatus {
  /** which engine runs, e.g. `chrome-headless-shell`, `system-chromium`, `custom` (PRESS_CHROMIUM_PATH) */
  engine: string;
  /** the browser binary, null before it was resolved */
  executablePath: string | null;
  /** browser version, null until launched */
  version: string | null;
  /** true when a browser is up and renders are accepted */
  ready: boolean;
  /** browser launches after the first one (recycling and crashes) */
  restarts: number;
  /** renders in progress */
  active: number;
  /** renders waiting for a slot */
  queued: number;
  /** browser contexts open; each belongs to one account for life (or to none yet, while spare) */
  contexts: number;
  /** last launch or crash problem, if the renderer is not ready */
  error: string | null;
  /** the proxy the browser is pointed at, which refuses every request reaching it (Chromium engines) */
  networkGuard?: { proxy: string | null; refused: number };
  /**
   * the measured memory bounds (MiB, 0 = off) and what they did: pages and browsers recycled for size (and
   * browsers by render count), the largest renderer and the browser's own processes at their last check
   */
  memory?: {
    pageBoundMiB: number;
    browserBoundMiB: number;
    pagesRecycled: number;
    browsersRecycled: number;
    browsersRecycledByCount: number;
    largestPageMiB: number;
    browserMiB: number;
  };
  /** when renders run in a supervised child process: its pid (null while restarting) and restarts */
  renderProcess?: { pid: number | null; restarts: number };
  /** Chromium's sandbox: on or off, the user Chromium runs as, and why (Chromium engines) */
  sandbox?: { enabled: boolean; user: string; reason: string; confinedBy: string };
}

export interface Renderer {
  /** Render one document. Rejects with `RenderError` only. Calls beyond `capacity` wait for a slot. */
  render(req: RenderRequest): Promise<RenderResult>;
  /** how many renders run at once; the queue uses it as the self-hosted concurrency limit */
  readonly capacity: number;
  /** snapshot for `/readyz` and logs */
  status(): RendererStatus;
  /** Find and launch the engine; rejects if it can't. `render()` calls it lazily too. */
  start(): Promise<void>;
  /** Stop accepting renders, fail queued ones with `render_internal_error`, close the browser. */
  close(): Promise<void>;
}
