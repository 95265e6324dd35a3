import type { PageSession } from './page-session.js';
import type { PdfOptions } from '../renderer.js';

/**
 * The per-document calls of a render and of a page's reset, made on the slot's own CDP session instead of through
 * Playwright's `page.goto()` / `page.pdf()`: each of those runs Playwright's navigation or print machinery (progress
 * and timeout objects, a library stack trace, per-frame navigation bookkeeping, a stream read in three more calls)
 * on top of the one CDP command it comes down to (docs/performance.md, "The per-document calls over a server-side CDP
 * session"). Same commands, same parameters, same outcome as Playwright's.
 */

/** What opening a document in the main frame came to: the HTTP status of its response (null: none, e.g. about:blank). */
export interface Opened {
  status: number | null;
}

/**
 * Navigates the page's main frame to `url` and resolves once the new document has committed (Playwright's
 * `goto(url, { waitUntil: 'commit' })`), with the status of the response it committed (a navigation's request id
 * is its loader id). A navigation Chromium refuses or fails (`errorText`) rejects, as `goto` does. Needs the Page
 * and Network domains enabled on `cdp` (the pool's slots have both).
 */
export async function navigate(cdp: PageSession, url: string): Promise<Opened> {
  const committed = new Set<string>();
  const status = new Map<string, number | null>();
  let wake = () => undefined as void;
  const onNavigated = ({ frame }: { frame: { parentId?: string; loaderId: string } }) => {
    if (frame.parentId !== undefined) return;
    committed.add(frame.loaderId);
    wake();
  };
  const onResponse = ({ requestId, type, response }: { requestId: string; type: string; response: { status: number } }) => {
    if (type !== 'Document') return;
    status.set(requestId, response.status);
    wake();
  };
  // A request that ends without a response (refused at the proxy after the commit of an error page) has no status.
  const onEnded = ({ requestId }: { requestId: string }) => {
    if (!status.has(requestId)) status.set(requestId, null);
    wake();
  };
  cdp.on('Page.frameNavigated', onNavigated);
  cdp.on('Network.responseReceived', onResponse);
  cdp.on('Network.loadingFailed', onEnded);
  cdp.on('Network.loadingFinished', onEnded);
  try {
    const { loaderId, errorText } = await cdp.send<{ loaderId?: string; errorText?: string }>('Page.navigate', { url });
    if (errorText) throw new Error(`navigation to ${url} failed: ${errorText}`);
    if (!loaderId) throw new Error(`navigation to ${url} opened no new document`);
    // about: and data: documents have no network request; an http(s) one's response precedes its commit.
    const answered = /^https?:/.test(url) ? () => status.has(loaderId) : () => true;
    while (!committed.has(loaderId) || !answered()) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    return { status: status.get(loaderId) ?? null };
  } finally {
    cdp.off('Page.frameNavigated', onNavigated);
    cdp.off('Network.responseReceived', onResponse);
    cdp.off('Network.loadingFailed', onEnded);
    cdp.off('Network.loadingFinished', onEnded);
  }
}

/** Paper sizes in inches, as Playwright's `page.pdf({ format })` knows them. */
const PAPER_INCHES: Record<string, { width: number; height: number }> = {
  letter: { width: 8.5, height: 11 },
  legal: { width: 8.5, height: 14 },
  tabloid: { width: 11, height: 17 },
  ledger: { width: 17, height: 11 },
  a0: { width: 33.1, height: 46.8 },
  a1: { width: 23.4, height: 33.1 },
  a2: { width: 16.54, height: 23.4 },
  a3: { width: 11.7, height: 16.54 },
  a4: { width: 8.27, height: 11.7 },
  a5: { width: 5.83, height: 8.27 },
  a6: { width: 4.13, height: 5.83 },
};
const UNIT_PIXELS: Record<string, number> = { px: 1, in: 96, cm: 37.8, mm: 3.78 };

/** A page.pdf() length (`"21cm"`, `"8.5in"`, `"10mm"`, pixels without a unit) in inches. */
function inches(length: string | undefined): number | undefined {
  if (length === undefined) return undefined;
  let unit = length.slice(-2).toLowerCase();
  let value = length.slice(0, -2);
  if (!(unit in UNIT_PIXELS)) {
    unit = 'px';
    value = length;
  }
  const n = Number(value);
  if (Number.isNaN(n)) throw new Error(`Failed to parse parameter value: ${length}`);
  return (n * UNIT_PIXELS[unit]) / 96;
}

/** Page.printToPDF's parameters as Playwright sends them (lengths in inches). */
export interface PrintToPdfParams {
  landscape: boolean;
  displayHeaderFooter: boolean;
  headerTemplate: string;
  footerTemplate: string;
  printBackground: boolean;
  scale: number;
  paperWidth: number;
  paperHeight: number;
  marginTop: number;
  marginBottom: number;
  marginLeft: number;
  marginRight: number;
  pageRanges: string;
  preferCSSPageSize: boolean;
  generateTaggedPDF: boolean;
  generateDocumentOutline: boolean;
}

/** Page.printToPDF's parameters for page.pdf() options, exactly as Playwright maps them (its crPdf.ts). */
export function printToPdfParams(options: PdfOptions): PrintToPdfParams {
  let paperWidth = 8.5;
  let paperHeight = 11;
  if (options.format) {
    const format = PAPER_INCHES[options.format.toLowerCase()];
    if (!format) throw new Error(`Unknown paper format: ${options.format}`);
    paperWidth = format.width;
    paperHeight = format.height;
  } else {
    paperWidth = inches(options.width) || paperWidth;
    paperHeight = inches(options.height) || paperHeight;
  }
  const margin = options.margin ?? {};
  return {
    landscape: options.landscape ?? false,
    displayHeaderFooter: false,
    headerTemplate: '',
    footerTemplate: '',
    printBackground: options.printBackground ?? false,
    scale: options.scale ?? 1,
    paperWidth,
    paperHeight,
    marginTop: inches(margin.top) || 0,
    marginBottom: inches(margin.bottom) || 0,
    marginLeft: inches(margin.left) || 0,
    marginRight: inches(margin.right) || 0,
    pageRanges: '',
    preferCSSPageSize: options.preferCSSPageSize ?? false,
    generateTaggedPDF: false,
    generateDocumentOutline: false,
  };
}

/**
 * Prints the page's document (Playwright's `page.pdf(options)`). The PDF comes as a stream read in chunks, as
 * Playwright reads it: in one answer (ReturnAsBase64) it would be a single string on this process's heap, 4/3 of the
 * PDF's size, and a document that prints hundreds of MiB could take the render process down with it. Returning it in
 * the answer measured 1–5 ms quicker per print (docs/performance.md); not worth that risk.
 */
export async function printPdf(cdp: PageSession, options: PdfOptions): Promise<Buffer> {
  const { stream } = await cdp.send<{ stream: string }>('Page.printToPDF', { ...printToPdfParams(options), transferMode: 'ReturnAsStream' });
  const chunks: Buffer[] = [];
  for (let eof = false; !eof; ) {
    const read = await cdp.send<{ eof: boolean; data: string; base64Encoded?: boolean }>('IO.read', { handle: stream });
    eof = read.eof;
    chunks.push(Buffer.from(read.data, read.base64Encoded ? 'base64' : 'utf8'));
  }
  // Nothing waits for the close: the PDF is complete.
  cdp.send('IO.close', { handle: stream }).catch(() => undefined);
  return Buffer.concat(chunks);
}
