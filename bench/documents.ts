/** The documents the benchmark prints: the same HTML goes to the API path and to the raw Playwright loop. */

const rows = (n: number, offset = 0) =>
  Array.from({ length: n }, (_, i) => `<tr><td>Item ${offset + i + 1}</td><td class="n">${(i % 7) + 1}</td><td class="n">€${(95 + i).toFixed(2)}</td></tr>`).join('');

const style = `<style>
@page { size: A4; margin: 18mm 16mm; }
body { font-family: sans-serif; font-size: 10pt; color: #1d2330; }
h1 { font-size: 18pt; } table { width: 100%; border-collapse: collapse; }
td, th { padding: 2mm; border-bottom: 1px solid #dde; } .n { text-align: right; }
section { break-after: page; }
</style>`;

/** A one-page A4 invoice: heading + 12-row table (as in shared/notes/chromium-performance.md). */
export const onePage = `<!doctype html><html><head><meta charset="utf-8">${style}</head><body>
<h1>Invoice INV-0001</h1><p>Globex Corporation, 42 Industrial Way</p>
<table><thead><tr><th>Description</th><th>Qty</th><th>Unit</th></tr></thead><tbody>${rows(12)}</tbody></table>
</body></html>`;

/** A 50-page report: 50 sections, each forced onto its own page. */
export const fiftyPages = `<!doctype html><html><head><meta charset="utf-8">${style}</head><body>
${Array.from({ length: 50 }, (_, p) => `<section><h1>Section ${p + 1}</h1><table><tbody>${rows(20, p * 20)}</tbody></table></section>`).join('\n')}
</body></html>`;
