/**
 * What bench/peers.ts and bench/ab.ts share about the peers: their temp folder (installed with `npm install --prefix`,
 * never into this project) and the hand-written puppeteer server (bench/puppeteer-server.mjs).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchTmpdir, request } from './support.js';

export const PEERS_DIR = process.env.BENCH_PEERS_DIR || join(tmpdir(), 'press-bench-peers');
const BROWSERLESS = '@browserless.io/browserless@2';

/** Installs Browserless 2, puppeteer-core and node@24 into PEERS_DIR unless they are there. */
export function installPeers(): void {
  const has = (p: string) => existsSync(join(PEERS_DIR, 'node_modules', p));
  if (has('@browserless.io/browserless/package.json') && has('puppeteer-core') && has('node/bin/node')) return;
  mkdirSync(PEERS_DIR, { recursive: true });
  process.stderr.write(`installing ${BROWSERLESS}, puppeteer-core and node@24 into ${PEERS_DIR} …\n`);
  const r = spawnSync('npm', ['install', '--prefix', PEERS_DIR, '--no-save', '--no-audit', '--no-fund', '--loglevel=error', BROWSERLESS, 'puppeteer-core', 'node@24'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`npm install --prefix ${PEERS_DIR} failed (exit ${r.status})`);
}

/** A package's version in PEERS_DIR. */
export const peerVersion = (pkg: string) => (spawnSync(process.execPath, ['-p', `require(${JSON.stringify(join(PEERS_DIR, 'node_modules', pkg, 'package.json'))}).version`]).stdout.toString().trim());

/** Resolves when the child prints a line matching `ready` (or sends an IPC message); rejects if it exits. */
export function started(child: ChildProcess, ready: RegExp | null, what: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (b: Buffer) => {
      out = (out + b.toString()).slice(-4000);
      if (ready?.test(out)) resolve(null);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready:\n${out}`)));
  });
}

/** servers whose first failure was reported */
const failed = new Set<string>();

/** POSTs `body` and expects a PDF back; `ms`: request → last byte. */
export async function pdfOver(url: string, body: string, type: string): Promise<{ ms: number; ok: boolean; pdf?: Buffer }> {
  const t = performance.now();
  const res = await request(url, { method: 'POST', headers: { 'content-type': type }, body });
  const bytes = res.body;
  const ok = res.status === 200 && bytes.length > 4 && bytes.subarray(0, 4).toString() === '%PDF';
  if (!ok && !failed.has(url)) {
    failed.add(url);
    process.stderr.write(`${url.split('?')[0]} answered ${res.status}: ${Buffer.from(bytes.subarray(0, 300)).toString()}\n`);
  }
  return { ms: performance.now() - t, ok, pdf: ok ? bytes : undefined };
}

/** The hand-written puppeteer server on `engine`'s binary and flags: its process, and one document's request. */
export async function startPuppeteerServer(engine: { executablePath: string; args: string[] }) {
  const child = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'puppeteer-server.mjs')], {
    env: { ...process.env, TMPDIR: benchTmpdir(), PEERS_DIR, CHROMIUM_PATH: engine.executablePath, CHROMIUM_ARGS: JSON.stringify(engine.args) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  try {
    const { port } = (await started(child, null, 'puppeteer server')) as { port: number };
    return { child, one: (html: string) => pdfOver(`http://127.0.0.1:${port}/`, html, 'text/html') };
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  }
}
