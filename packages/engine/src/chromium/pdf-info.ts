import { PDFDocument } from 'pdf-lib';

/**
 * Page count of a PDF, by parsing it (the document catalogue's page tree), never by estimating. pdf-lib reads
 * the buffer in place; `updateMetadata: false` keeps it from touching the producer/dates.
 */
export async function countPdfPages(pdf: Uint8Array): Promise<number> {
  const doc = await PDFDocument.load(pdf, { updateMetadata: false, ignoreEncryption: true });
  return doc.getPageCount();
}
