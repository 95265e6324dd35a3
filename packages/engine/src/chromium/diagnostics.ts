import { DIAGNOSTICS_MAX_BYTES, DIAGNOSTICS_MAX_ITEMS, emptyDiagnostics } from '../renderer.js';
import type { RenderDiagnostics } from '../renderer.js';
import { redactPageText } from './logger.js';

type ListName = Exclude<keyof RenderDiagnostics, 'omitted'>;
type Item<K extends ListName> = RenderDiagnostics[K][number];

/** Longest text (message, console line) kept per item. */
const MAX_TEXT = 500;

/**
 * The diagnostics of one render, bounded as they arrive: an item over a list's cap or the byte budget is only
 * counted, never kept, so a page that floods its console costs a counter, not memory.
 */
export class DiagnosticsCollector {
  private readonly diagnostics = emptyDiagnostics();
  /** JSON bytes of the kept items, against DIAGNOSTICS_MAX_BYTES (the frame of the object is small and fixed) */
  private bytes = 0;

  constructor(private readonly secrets: Record<string, string>) {}

  /** Page-produced text as kept: secrets masked, truncated. */
  text(raw: string): string {
    return redactPageText(raw.length > 4 * MAX_TEXT ? raw.slice(0, 4 * MAX_TEXT) : raw, this.secrets, MAX_TEXT);
  }

  /** Whether one more item of `list` would be kept (lets callers skip building it). */
  has(list: ListName): boolean {
    return this.diagnostics[list].length < DIAGNOSTICS_MAX_ITEMS && this.bytes < DIAGNOSTICS_MAX_BYTES;
  }

  /** Counts an item the caller did not build because `has()` said it would not be kept. */
  omit(): void {
    this.diagnostics.omitted++;
  }

  add<K extends ListName>(list: K, item: Item<K>): void {
    const size = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (!this.has(list) || this.bytes + size > DIAGNOSTICS_MAX_BYTES) {
      this.diagnostics.omitted++;
      return;
    }
    this.bytes += size;
    (this.diagnostics[list] as Array<Item<K>>).push(item);
  }

  /** the last page error kept, for a render_timeout message */
  lastPageError(): Item<'pageErrors'> | null {
    return this.diagnostics.pageErrors.at(-1) ?? null;
  }

  snapshot(): RenderDiagnostics {
    const d = this.diagnostics;
    return {
      pageErrors: [...d.pageErrors],
      console: [...d.console],
      blockedRequests: [...d.blockedRequests],
      failedRequests: [...d.failedRequests],
      omitted: d.omitted,
    };
  }
}

/** A URL as diagnostics show it: no query or fragment (tokens), at most 300 characters. */
export function diagnosticUrl(raw: string): string {
  let out = raw;
  try {
    const url = new URL(raw);
    if (url.protocol === 'http:' || url.protocol === 'https:') out = `${url.origin}${url.pathname}`;
    else out = url.protocol === 'about:' ? `about:${url.pathname}` : url.protocol;
  } catch {
    out = raw.split(/[?#]/)[0];
  }
  return out.length > 300 ? `${out.slice(0, 300)}…` : out;
}

/** Where an error was thrown, from the first frame of its V8 stack (`at f (url:line:col)` or `at url:line:col`). */
export function errorLocation(stack: string | undefined): { source: string | null; line: number | null } {
  const frame = stack?.split('\n').find((l) => /^\s+at /.test(l));
  const m = frame ? /\(?([a-z][\w+.-]*:[^\s()]*?):(\d+):\d+\)?\s*$/i.exec(frame) : null;
  if (!m) return { source: null, line: null };
  return { source: diagnosticUrl(m[1]), line: Number(m[2]) };
}
