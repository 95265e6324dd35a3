import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import type { FileEntry } from '../../src/model/records.js';
import { ChromiumRenderer } from '../../packages/engine/src/chromium/chromium-renderer.js';
import { findChromium } from '../../packages/engine/src/chromium/find-chromium.js';
import type { ChromiumRendererOptions } from '../../packages/engine/src/chromium/chromium-renderer.js';
import { RenderError } from '../../packages/engine/src/renderer.js';
import type { RenderFiles, RenderRequest } from '../../packages/engine/src/renderer.js';
import type { Logger } from '../../packages/engine/src/logger.js';

const APPS = fileURLToPath(new URL('../fixtures/apps/', import.meta.url));

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
};

/** A fixture app as the version files a render gets; `requested` records every path the page asked for. */
export interface FixtureFiles extends RenderFiles {
  requested: string[];
  served: Array<{ path: string; mime: string }>;
}

export function fixtureFiles(app: string): FixtureFiles {
  const root = join(APPS, app);
  const files = new Map<string, { file: FileEntry; body: Buffer }>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else {
        const body = readFileSync(full);
        const path = relative(root, full).split(sep).join('/');
        const sha256 = createHash('sha256').update(body).digest('hex');
        const mime = MIME[extname(name)] ?? 'application/octet-stream';
        files.set(path, { file: { path, sha256, size: body.length, mime }, body });
      }
    }
  };
  walk(root);
  const requested: string[] = [];
  const served: Array<{ path: string; mime: string }> = [];
  return {
    requested,
    served,
    async get(path) {
      requested.push(path);
      return files.get(path)?.file ?? null;
    },
    async open(file) {
      const entry = files.get(file.path);
      if (!entry) throw new Error(`no blob for ${file.path}`);
      served.push({ path: file.path, mime: file.mime });
      return entry.body;
    },
  };
}

let seq = 0;

export function jsonPayload(value: unknown): RenderRequest['payload'] {
  return { body: Buffer.from(JSON.stringify(value)), mime: 'application/json; charset=utf-8' };
}

/** A render request for a fixture app with harmless defaults. */
export function renderRequest(app: string, overrides: Partial<RenderRequest> = {}): RenderRequest {
  return {
    jobId: `rj_test${++seq}`,
    accountId: 'acct_test',
    entry: 'index.html',
    files: fixtureFiles(app),
    payload: jsonPayload(null),
    env: {},
    secrets: {},
    allowExternalNetwork: false,
    timeoutMs: 10_000,
    maxOutputBytes: null,
    ...overrides,
  };
}

export { pdfPagesText, pdfText } from '../helpers/pdf.js';

/** A logger that keeps every entry, to assert on what was (not) logged. */
export function memoryLogger(): Logger & { entries: Array<{ level: string; obj: object; msg?: string }> } {
  const entries: Array<{ level: string; obj: object; msg?: string }> = [];
  const at = (level: string) => (obj: object, msg?: string) => void entries.push({ level, obj, msg });
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** One started renderer for the test file (closed after it); call the returned function inside a test. */
export function useRenderer(options: ChromiumRendererOptions): () => ChromiumRenderer {
  let renderer: ChromiumRenderer | undefined;
  beforeAll(async () => {
    renderer = new ChromiumRenderer(options);
    await renderer.start();
  });
  afterAll(async () => {
    await renderer?.close();
  });
  return () => {
    if (!renderer) throw new Error('useRenderer(): the renderer is only there inside a test');
    return renderer;
  };
}

/** The pool's Chromium launched bare (headless, its flags, no pool): for tests of single CDP calls on a page. */
export async function launchBareBrowser(): Promise<Browser> {
  const { executablePath, args } = await findChromium();
  return chromium.launch({ executablePath, args, headless: true });
}

/** The RenderError a render fails with; fails the test if it succeeds or fails with anything else. */
export async function renderError(promise: Promise<unknown>): Promise<RenderError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(RenderError);
    return err as RenderError;
  }
  throw new Error('the render succeeded');
}

export interface ChromiumProcess {
  pid: number;
  /** `browser`, or the value of its `--type=` flag (`renderer`, `zygote`, `gpu-process`, `utility`) */
  type: string;
  cmdline: string[];
  /** /proc/<pid>/status */
  status: string;
}

/** The live Chromium processes of the browser whose profile is under `workDir` (a renderer's work directory). */
export function chromiumProcesses(workDir: string): ChromiumProcess[] {
  const all: Array<ChromiumProcess & { ppid: number }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Chromium rewrites its children's titles into one space-separated string.
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split(/[\0 ]/).filter(Boolean);
      const status = readFileSync(`/proc/${name}/status`, 'utf8');
      const type = cmdline.find((a) => a.startsWith('--type='))?.slice('--type='.length) ?? 'browser';
      all.push({ pid: Number(name), ppid: Number(/^PPid:\s*(\d+)/m.exec(status)?.[1]), type, cmdline, status });
    } catch {
      // gone meanwhile
    }
  }
  const browser = all.find((p) => p.type === 'browser' && p.cmdline.some((a) => a.startsWith(`--user-data-dir=${workDir}/`)));
  if (!browser) return [];
  const mine = new Set([browser.pid]);
  // Descendants: zygotes fork renderers, so walk until nothing new is added.
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) if (!mine.has(p.pid) && mine.has(p.ppid)) grew = mine.add(p.pid).size > 0;
  }
  return all.filter((p) => mine.has(p.pid)).map(({ ppid: _ppid, ...p }) => p);
}
