import { readFileSync } from 'node:fs';
import { PDFDocument } from 'pdf-lib';
import { describe, expect, it } from 'vitest';
import { countPdfPages, pageTreeCount } from '../../packages/engine/src/chromium/pdf-info.js';

async function pdfOf(pages: number, opts: { useObjectStreams: boolean }): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  for (let i = 0; i < pages; i++) doc.addPage();
  return doc.save(opts);
}

describe('countPdfPages', () => {
  it('reads the page tree root of a classic single-revision PDF', async () => {
    for (const n of [1, 7, 50]) {
      const pdf = await pdfOf(n, { useObjectStreams: false });
      expect(pageTreeCount(pdf)).toBe(n);
      expect(await countPdfPages(pdf)).toBe(n);
    }
  });

  it('parses in full what the short read does not cover (object streams, incremental updates)', async () => {
    const packed = await pdfOf(3, { useObjectStreams: true });
    expect(pageTreeCount(packed)).toBeNull();
    expect(await countPdfPages(packed)).toBe(3);

    // An incremental update appends a second trailer whose /Root may point at another page tree.
    const base = Buffer.from(await pdfOf(2, { useObjectStreams: false }));
    const updated = Buffer.concat([base, Buffer.from('\n999 0 obj\n<< >>\nendobj\ntrailer\n<< /Root 999 0 R >>\n%%EOF\n')]);
    expect(pageTreeCount(updated)).toBeNull();
  });

  it('reads Chromium’s own output as pdf-lib does', async () => {
    const pdf = readFileSync(new URL('../fixtures/pdf/chromium-3-pages.pdf', import.meta.url));
    expect(pageTreeCount(pdf)).toBe(3);
    const doc = await PDFDocument.load(pdf, { updateMetadata: false });
    expect(doc.getPageCount()).toBe(3);
  });
});
