import type { RenderJobDiagnostics } from './types.js';

const at = (x: { source: string | null; line: number | null }) => (x.source ? ` (${x.source}${x.line !== null ? `:${x.line}` : ''})` : '');

/**
 * A job's page problems (spec §9.1) as one line of text each, most telling first: uncaught page errors with
 * script and line, console errors and warnings, failed requests (e.g. a 404 for a file missing from the version),
 * requests the network policy blocked. Line breaks inside a text become spaces. `omitted` is not counted here.
 */
export function diagnosticLines(d: RenderJobDiagnostics): string[] {
  const one = (text: string) => text.replace(/\s*[\r\n]+\s*/g, ' ');
  return [
    ...d.pageErrors.map((e) => `page error: ${one(e.message)}${at(e)}`),
    ...d.console.map((c) => `console ${c.level}: ${one(c.text)}${at(c)}`),
    ...d.failedRequests.map((f) => `failed request: ${f.url} → ${f.status ?? one(f.error ?? 'no response')}`),
    ...d.blockedRequests.map((b) => `blocked request: ${b.url} (${b.reason})`),
  ];
}
