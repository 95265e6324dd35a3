import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/*
 * PDF text extraction with pdfjs-dist, run in a worker thread. The legacy build bundles core-js polyfills that
 * replace globals such as JSON.parse and JSON.stringify with far slower versions; loaded into a test process that
 * also runs the server, they make a 10 MB JSON request take tens of seconds (mostly GC). The worker keeps them out.
 */

const PDFJS_URL = pathToFileURL(createRequire(import.meta.url).resolve('pdfjs-dist/legacy/build/pdf.mjs')).href;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const pdfjsReady = import(${JSON.stringify(PDFJS_URL)});
parentPort.on('message', async ({ id, data }) => {
  try {
    const pdfjs = await pdfjsReady;
    const doc = await pdfjs.getDocument({ data, verbosity: 0 }).promise;
    const pages = [];
    for (let i = 1; i <= doc.numPages; i++) {
      const content = await (await doc.getPage(i)).getTextContent();
      pages.push(
        content.items
          // Items break at ligatures and font changes; only an end of line is a space.
          .map((item) => ('str' in item ? item.str + (item.hasEOL ? ' ' : '') : ''))
          .join('')
          .replace(/\\s+/g, ' ')
          .trim(),
      );
    }
    await doc.destroy();
    parentPort.postMessage({ id, pages });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.stack) || err) });
  }
});
`;

let worker: Worker | null = null;
let seq = 0;
const pending = new Map<number, { resolve: (pages: string[]) => void; reject: (err: Error) => void }>();

function pdfWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_SOURCE, { eval: true });
  w.on('message', (m: { id: number; pages?: string[]; error?: string }) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (pending.size === 0) w.unref();
    if (m.error !== undefined) p.reject(new Error(`pdf text extraction failed: ${m.error}`));
    else p.resolve(m.pages!);
  });
  const fail = (err: Error) => {
    worker = null;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`pdf worker exited (${code})`)));
  w.unref();
  worker = w;
  return w;
}

/** The text of every page of a PDF, one string per page (pdfjs-dist in a worker thread, no native tools needed). */
export function pdfPagesText(pdf: Buffer | Uint8Array): Promise<string[]> {
  const w = pdfWorker();
  const id = ++seq;
  // a copy: pdfjs takes ownership of (and detaches) the bytes it is given
  const data = new Uint8Array(pdf);
  return new Promise<string[]>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    w.ref();
    w.postMessage({ id, data }, [data.buffer]);
  });
}

/** All the text of a PDF, pages joined by newlines. */
export async function pdfText(pdf: Buffer | Uint8Array): Promise<string> {
  return (await pdfPagesText(pdf)).join('\n');
}
