/**
 * Local renders: the server's own render engine (ChromiumRenderer) with the version's files served from a local
 * directory instead of storage. Payload, env and secrets reach the page exactly as on the server
 * (`https://p.press.internal/__payload`, `/environment.json`, the `pressCloud` global), and the same readiness
 * rules and PDF options apply — so a document renders the same on a laptop and on Press Cloud.
 *
 * The CLI lives in this repository and imports the engine from the server's sources; loaded lazily, only by
 * `press render` without --remote.
 */
import { readFile } from 'node:fs/promises';
import { listFiles, type LocalFile } from '@press-cloud/sdk/files';
import { ChromiumRenderer } from '../../../src/adapters/chromium/chromium-renderer.js';
import type { RenderFile, RenderFiles, RenderTimings } from '../../../src/ports/renderer.js';

export interface LocalRenderInput {
  dir: string;
  entry: string;
  exclude: (path: string) => boolean;
  payload: { body: Buffer; mime: string };
  env: Record<string, string>;
  secrets: Record<string, string>;
  timeoutMs: number;
}

export interface LocalRenderResult {
  pdf: Buffer;
  pageCount: number;
  timings: RenderTimings & { filesMs: number; launchMs: number };
}

/** The directory's files as a deploy version: the same listing (and mime types) an upload would send. */
export async function directoryFiles(dir: string, exclude: (path: string) => boolean): Promise<RenderFiles> {
  const byPath = new Map<string, LocalFile>((await listFiles(dir, { exclude })).map((f) => [f.path, f]));
  return {
    async get(path: string): Promise<RenderFile | null> {
      const f = byPath.get(path);
      // sha256 locates a blob in storage; local files are read by path, so it stays empty
      return f ? { path: f.path, sha256: '', size: f.size, mime: f.mime } : null;
    },
    open: (file: RenderFile) => readFile(byPath.get(file.path)!.absPath),
  };
}

export async function renderLocally(input: LocalRenderInput): Promise<LocalRenderResult> {
  const t0 = performance.now();
  const files = await directoryFiles(input.dir, input.exclude);
  const t1 = performance.now();
  const renderer = new ChromiumRenderer({ capacity: 1, sparePage: false, maxIdlePages: 1 });
  try {
    await renderer.start();
    const t2 = performance.now();
    const result = await renderer.render({
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
    });
    return {
      pdf: result.pdf,
      pageCount: result.pageCount,
      timings: { ...result.timings, filesMs: Math.round(t1 - t0), launchMs: Math.round(t2 - t1) },
    };
  } finally {
    await renderer.close();
  }
}
