import { diagnosticLines, type DeployProgress, type RenderJobDiagnostics } from '@press-cloud/sdk';

/**
 * What the CLI prints. Results go to stdout (JSON with --json); progress, timings and errors go to stderr.
 * Progress bars are drawn only when stderr is a terminal and --json is off: CI logs stay quiet and parseable.
 */
export interface OutputOptions {
  json: boolean;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function formatMs(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

export function formatTime(ms: number | null | undefined): string {
  return ms ? new Date(ms).toISOString().replace('.000Z', 'Z') : '-';
}

/** How many page problems the CLI prints of a render; the rest is counted ("… and 7 more"). */
export const DIAGNOSTICS_SHOWN = 10;

/** `3 page problems` — every problem the render reported, including those over the server's caps. */
export function problemCount(d: RenderJobDiagnostics): string {
  const n = diagnosticLines(d).length + d.omitted;
  return `${n} page problem${n === 1 ? '' : 's'}`;
}

/**
 * A render's page problems (spec §9.1) as indented lines, bounded: the first DIAGNOSTICS_SHOWN, then how many
 * more (with those the server left out over its caps). None when the page reported nothing.
 */
export function diagnosticsLines(d: RenderJobDiagnostics | null | undefined, indent = '  '): string[] {
  if (!d) return [];
  const all = diagnosticLines(d);
  const more = Math.max(0, all.length - DIAGNOSTICS_SHOWN) + d.omitted;
  return [...all.slice(0, DIAGNOSTICS_SHOWN), ...(more ? [`… and ${more} more`] : [])].map((l) => `${indent}${l}`);
}

export class Output {
  readonly json: boolean;
  private readonly tty: boolean;
  private lineOpen = false;
  private spinnerTimer: NodeJS.Timeout | null = null;

  constructor(opts: OutputOptions, private readonly stderr: NodeJS.WriteStream = process.stderr) {
    this.json = opts.json;
    this.tty = !opts.json && !!stderr.isTTY && process.env.TERM !== 'dumb';
  }

  /** the result: JSON (one document) with --json, else the human text */
  result(human: string | string[], json: unknown): void {
    this.clear();
    if (this.json) process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    else process.stdout.write(`${[human].flat().join('\n')}\n`);
  }

  /** a note on stderr (not in --json mode) */
  info(text: string): void {
    if (this.json) return;
    this.clear();
    this.stderr.write(`${text}\n`);
  }

  /** a warning on stderr, also in --json mode */
  warn(text: string): void {
    this.clear();
    this.stderr.write(`press: warning: ${text}\n`);
  }

  /**
   * The page problems of a render on stderr, bounded (also in --json mode, where stdout carries them in full):
   * a warning when the render succeeded anyway, else context for the error that follows.
   */
  diagnostics(d: RenderJobDiagnostics | null | undefined, what: string, failed: boolean): void {
    const lines = diagnosticsLines(d);
    if (!d || !lines.length) return;
    this.clear();
    const head = failed ? `the page reported ${problemCount(d)} before ${what} failed:` : `press: warning: ${what} succeeded, but the page reported ${problemCount(d)}:`;
    this.stderr.write(`${[head, ...lines].join('\n')}\n`);
  }

  /** `label [#####-----] 3/5 files, 120 kB/300 kB` — redrawn in place; a no-op off a TTY */
  bar(label: string, done: number, total: number, detail = ''): void {
    if (!this.tty) return;
    const width = 24;
    const filled = total > 0 ? Math.round((done / total) * width) : width;
    this.draw(`${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${detail}`);
  }

  /** a spinner with a changing text (waiting on a render); a no-op off a TTY */
  spinner(text: () => string): () => void {
    if (!this.tty) return () => {};
    const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    let i = 0;
    const started = Date.now();
    const tick = () => this.draw(`${frames[i++ % frames.length]} ${text()} ${formatMs(Date.now() - started)}`);
    tick();
    this.spinnerTimer = setInterval(tick, 120);
    return () => {
      if (this.spinnerTimer) clearInterval(this.spinnerTimer);
      this.spinnerTimer = null;
      this.clear();
    };
  }

  /** `--timing-detail`: one line per step on stderr */
  timings(steps: [string, number][]): void {
    this.clear();
    const width = Math.max(...steps.map(([s]) => s.length));
    for (const [step, ms] of steps) this.stderr.write(`timing: ${step.padEnd(width)} ${formatMs(ms).padStart(9)}\n`);
  }

  private draw(line: string): void {
    const cols = this.stderr.columns || 100;
    this.stderr.write(`\r\x1b[2K${line.slice(0, cols - 1)}`);
    this.lineOpen = true;
  }

  clear(): void {
    if (!this.lineOpen) return;
    this.stderr.write('\r\x1b[2K');
    this.lineOpen = false;
  }
}

/** Fixed-width columns for lists. */
export function table(rows: string[][]): string[] {
  if (rows.length === 0) return [];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd());
}

/** The `onProgress` of deployDirectory as progress bars: hashing, uploading (files and bytes), committing. */
export function deployProgress(out: Output) {
  return (p: DeployProgress) => {
    if (p.phase === 'commit') return out.bar('committing', 1, 1);
    const label = p.phase === 'hash' ? 'hashing  ' : 'uploading';
    out.bar(label, p.bytes, p.totalBytes, `${p.files}/${p.totalFiles} files, ${formatBytes(p.bytes)}/${formatBytes(p.totalBytes)}`);
  };
}
