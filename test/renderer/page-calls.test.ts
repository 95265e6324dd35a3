import { describe, expect, it } from 'vitest';
import { printToPdfParams } from '../../packages/engine/src/chromium/page-calls.js';
import { printPdfOptions } from '../../packages/engine/src/renderer.js';

/** The renderer prints with Page.printToPDF itself: the parameters must be the ones Playwright's page.pdf() sent. */
describe('printToPdfParams', () => {
  it('sends the defaults page.pdf() sent: CSS page size, backgrounds, Letter as fallback paper', () => {
    expect(printToPdfParams(printPdfOptions())).toEqual({
      landscape: false, displayHeaderFooter: false, headerTemplate: '', footerTemplate: '', printBackground: true,
      scale: 1, paperWidth: 8.5, paperHeight: 11, marginTop: 0, marginBottom: 0, marginLeft: 0, marginRight: 0,
      pageRanges: '', preferCSSPageSize: true, generateTaggedPDF: false, generateDocumentOutline: false,
    });
  });

  it('maps formats (any case) and lengths in px, in, cm and mm to inches as Playwright does', () => {
    const a5 = printToPdfParams(printPdfOptions({ format: 'A5', landscape: true, margin: { top: '5mm', left: '1in', right: '96', bottom: '2cm' }, scale: 0.5 }));
    expect(a5).toMatchObject({ paperWidth: 5.83, paperHeight: 8.27, landscape: true, scale: 0.5, preferCSSPageSize: false });
    expect(a5.marginTop).toBeCloseTo((5 * 3.78) / 96, 10);
    expect(a5.marginLeft).toBe(1);
    expect(a5.marginRight).toBe(1);
    expect(a5.marginBottom).toBeCloseTo((2 * 37.8) / 96, 10);
    expect(printToPdfParams({ format: 'ledger' as 'Ledger' })).toMatchObject({ paperWidth: 17, paperHeight: 11 });
    // width/height replace the Letter fallback one by one; a zero length keeps it (Playwright's `|| default`)
    expect(printToPdfParams(printPdfOptions({ width: '21cm' }))).toMatchObject({ paperWidth: (21 * 37.8) / 96, paperHeight: 11, preferCSSPageSize: false });
    expect(printToPdfParams({ width: '0', height: '480px' })).toMatchObject({ paperWidth: 8.5, paperHeight: 5 });
    expect(printToPdfParams({ printBackground: false, preferCSSPageSize: true })).toMatchObject({ printBackground: false, preferCSSPageSize: true });
  });

  it('refuses what page.pdf() refused', () => {
    expect(() => printToPdfParams({ width: 'wide' })).toThrow('Failed to parse parameter value: wide');
    expect(() => printToPdfParams({ format: 'A7' as 'A6' })).toThrow('Unknown paper format: A7');
  });
});
