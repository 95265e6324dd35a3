/**
 * Local renders: the server's own render engine (`@press-cloud/engine`) with the files served from a local
 * directory instead of storage. Payload, env and secrets reach the page exactly as on the server
 * (`https://p.press.internal/__payload`, `/environment.json`, the `pressCloud` global), and the same readiness
 * rules apply — so a document renders the same on a laptop and on Press Cloud.
 *
 * The engine is an optional dependency of the CLI (Chromium is large): this module is loaded only by
 * `press render` without --remote, and says how to install the engine when it is missing.
 */
import { readFile } from 'node:fs/promises';
import type { ChromiumRenderer, PdfOptions, FileEntry, RenderDiagnostics, RenderFiles, RenderTimings } from '@press-cloud/engine';
import { listFiles, type LocalFile } from '@press-cloud/sdk/node';
import { CliError } from './errors.js';

export interface LocalRenderInput {
  dir: string;
  entry: string;
  exclude: (path: string) => boolean;
  payload: { body: Buffer; mime: string };
  env: Record<string, string>;
  secrets: Record<string, string>;
  timeoutMs: number;
  pdfOptions: PdfOptions;
}

export interface LocalRenderResult {
  pdf: Buffer;
  pageCount: number;
  timings: RenderTimings & { filesMs: number; launchMs: number };
  /** what went wrong inside the page, as a job's `diagnostics` (a failed render's RenderError carries them too) */
  diagnostics: RenderDiagnostics;
}

type Engine = typeof import('@press-cloud/engine');

/** The engine package, or a CliError saying how to get it. */
export async function loadEngine(): Promise<Engine> {
  try {
    return await import('@press-cloud/engine');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes('@press-cloud/engine')) throw err;
    throw new CliError(
      'local renders need the render engine, which is not installed: npm install @press-cloud/engine (or render on a server with --remote)',
      'engine_not_installed',
    );
  }
}

/** The directory's files as a deploy version: the same listing (and mime types) an upload would send. */
export async function directoryFiles(dir: string, exclude: (path: string) => boolean): Promise<RenderFiles> {
  const byPath = new Map<string, LocalFile>((await listFiles(dir, { exclude })).map((f) => [f.path, f]));
  return {
    async get(path: string): Promise<FileEntry | null> {
      const f = byPath.get(path);
      // sha256 locates a blob in storage; local files are read by path, so it stays empty
      return f ? { path: f.path, sha256: '', size: f.size, mime: f.mime } : null;
    },
    open: (file: FileEntry) => readFile(byPath.get(file.path)!.absPath),
  };
}

/** One browser for a run of local renders (`press render --watch` re-renders without relaunching Chromium). */
export class LocalRenderer {
  private renderer: ChromiumRenderer | null = null;
  private launchMs = 0;

  async render(input: LocalRenderInput): Promise<LocalRenderResult> {
    const t0 = performance.now();
    const files = await directoryFiles(input.dir, input.exclude);
    const t1 = performance.now();
    if (!this.renderer) {
      const { ChromiumRenderer, createOutbound } = await loadEngine();
      this.renderer = new ChromiumRenderer({ capacity: 1, sparePage: false, maxIdlePages: 1, outbound: createOutbound() });
      await this.renderer.start();
      this.launchMs = Math.round(performance.now() - t1);
    } else {
      this.launchMs = 0;
    }
    const result = await this.renderer.render({
      jobId: 'local',
      accountId: 'local',
      entry: input.entry,
      files,
      payload: input.payload,
      env: input.env,
      secrets: input.secrets,
      // as the self-hosted server's default plan: no internet unless the operator opts in
      allowExternalNetwork: process.env.PRESS_ALLOW_EXTERNAL_NETWORK === 'true',
      timeoutMs: input.timeoutMs,
      maxOutputBytes: null,
      pdfOptions: input.pdfOptions,
    });
    return {
      pdf: result.pdf,
      pageCount: result.pageCount,
      diagnostics: result.diagnostics,
      timings: { ...result.timings, filesMs: Math.round(t1 - t0), launchMs: this.launchMs },
    };
  }

  async close(): Promise<void> {
    await this.renderer?.close();
    this.renderer = null;
  }
}
