import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePackagesBuilt } from '../helpers/build.js';
import { runProcess, type ProcessRun } from '../helpers/processes.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** the built CLI (packages/cli/dist, built here when stale), as `npm install @press-cloud/cli` installs it */
export const PRESS_BIN = join(REPO, 'packages/cli/bin/press.js');
ensurePackagesBuilt();
export const INVOICE_DIR = join(REPO, 'examples/invoice');
export const NEVER_READY_DIR = join(REPO, 'test/fixtures/apps/never-ready');
export const SIMPLE_DIR = join(REPO, 'test/fixtures/apps/simple');

export type PressRun = ProcessRun;

/** The environment of a CLI run: nothing of the developer's own login or Press Cloud variables leaks in. */
export function cleanEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PRESS_CLOUD_') && k !== 'PRESS_PROFILE' && k !== 'XDG_CONFIG_HOME') env[k] = v;
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/** Runs the built `press` (`node packages/cli/bin/press.js …`) as a real child process. */
export function press(
  args: string[],
  opts: { env: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number; onSpawn?: (child: ChildProcess) => void },
): Promise<PressRun> {
  return runProcess(process.execPath, [PRESS_BIN, ...args], { ...opts, cwd: opts.cwd ?? REPO });
}

/** A temp directory holding `press.toml` (and optional extra files). */
export function project(toml: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'press-cli-'));
  writeFileSync(join(dir, 'press.toml'), toml);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** TOML string literal. */
export const q = (s: string) => JSON.stringify(s);
