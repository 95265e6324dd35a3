import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './processes.js';

/** The newest modification time of any file under `dir` (0 when absent). */
function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) max = Math.max(max, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return max;
}

/**
 * Builds the packages (`npm run build:packages`) when a source is newer than the build, so the CLI tests run
 * the built `press` as users get it. Serialised with flock: test files start in parallel.
 */
export function ensurePackagesBuilt(): void {
  for (const p of ['sdk', 'engine', 'cli']) {
    if (!existsSync(join(ROOT, 'node_modules/@press-cloud', p))) {
      throw new Error(`node_modules/@press-cloud/${p} is missing: run \`npm install\` (a workspace package was added since the last install)`);
    }
  }
  const sources = Math.max(
    ...['sdk', 'engine', 'cli'].flatMap((p) => [newest(join(ROOT, 'packages', p, 'src')), statSync(join(ROOT, 'packages', p, 'package.json')).mtimeMs]),
  );
  const built = (p: string) => (existsSync(join(ROOT, 'packages', p, 'dist')) ? statSync(join(ROOT, 'packages', p, 'dist')).mtimeMs : 0);
  if (Math.min(built('sdk'), built('engine'), built('cli')) > sources) return;
  execFileSync('flock', [join(ROOT, 'packages', '.build.lock'), 'npm', 'run', 'build:packages', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Builds everything (`npm run build`: the server needs the built engine) when a source is newer than dist/. */
export function ensureServerBuilt(): void {
  const dist = join(ROOT, 'dist/cli/press-cloud.js');
  const sources = Math.max(newest(join(ROOT, 'src')), newest(join(ROOT, 'packages/engine/src')), statSync(join(ROOT, 'package.json')).mtimeMs);
  if (existsSync(dist) && statSync(dist).mtimeMs > sources) return;
  execFileSync('flock', [join(ROOT, 'packages', '.build.lock'), 'npm', 'run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * Builds the dashboard (`npm run build:dashboard`) when one of its sources, or the SDK schema it is typed by, is
 * newer than the build, so browser tests load what `npm start` serves. Serialised like the packages' build.
 */
export function ensureDashboardBuilt(): void {
  const index = join(ROOT, 'dashboard/dist/index.html');
  const sources = Math.max(
    newest(join(ROOT, 'dashboard/src')),
    statSync(join(ROOT, 'dashboard/index.html')).mtimeMs,
    statSync(join(ROOT, 'dashboard/vite.config.ts')).mtimeMs,
    statSync(join(ROOT, 'packages/sdk/src/schema.d.ts')).mtimeMs,
  );
  if (existsSync(index) && statSync(index).mtimeMs > sources) return;
  // NODE_ENV=production as `npm start` builds it: vitest sets NODE_ENV=test, which Vite would keep, bundling the
  // libraries' development builds (the first load then measures ~2 KiB more than users get)
  execFileSync('flock', [join(ROOT, 'dashboard', '.build.lock'), 'npm', 'run', 'build:dashboard', '--silent'], {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_ENV: 'production' },
  });
}
