/**
 * The packages as users get them: every package is packed (`npm pack`), the tarballs are installed with plain npm
 * into an empty project outside the repository, and there the installed commands and the SDK must work —
 * `press --version`, a local `press render` of a Press.js press.toml, `press-cloud serve` with `press render
 * --remote` against it, and a plain .mjs rendering a job through the SDK. Run by `npm run test:pack` (CI).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteDriver } from '../../src/adapters/sqlite/driver.js';
import { ensureDashboardBuilt, ensurePackagesBuilt, ensureServerBuilt } from '../helpers/build.js';
import { pdfText } from '../helpers/pdf.js';
import { ROOT } from '../helpers/processes.js';

const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;

/**
 * npm and npx see nothing of the repository: no npm_* variables of an enclosing `npm run`, no Press Cloud login.
 * Kept: npm_config_nodedir, the headers node-gyp builds the optional better-sqlite3 against, where one sets it.
 */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_(?!config_nodedir$)|PRESS_|XDG_CONFIG_HOME$|INIT_CWD$)/i.test(k)) env[k] = v;
  return { ...env, XDG_CONFIG_HOME: join(tmpdir(), 'press-pack-home'), ...extra };
}

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = userEnv()): string {
  return execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

describe('npm pack → npm install in an empty project → the installed packages work', () => {
  let project: string;
  let server: ChildProcess | undefined;

  beforeAll(() => {
    // build what is older than its sources (serialised, as every test that runs built code does: CI runs this file on
    // two Nodes at once), then pack without lifecycle scripts (a workspace's prepack would build it alone, out of order)
    ensureServerBuilt(); // first: when stale it builds everything, and the two below find nothing to do
    ensurePackagesBuilt();
    ensureDashboardBuilt();
    const tarballs = mkdtempSync(join(tmpdir(), 'press-tarballs-'));
    sh('npm', ['pack', '--workspaces', '--ignore-scripts', '--pack-destination', tarballs], ROOT);
    sh('npm', ['pack', '--ignore-scripts', '--pack-destination', tarballs], ROOT);
    const files = readdirSync(tarballs).sort();
    expect(files).toEqual([`press-cloud-${VERSION}.tgz`, `press-cloud-cli-${VERSION}.tgz`, `press-cloud-engine-${VERSION}.tgz`, `press-cloud-sdk-${VERSION}.tgz`]);

    project = mkdtempSync(join(tmpdir(), 'press-pack-project-'));
    expect(project.startsWith(ROOT)).toBe(false);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'press-pack-test', private: true, type: 'module' }));
    sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...files.map((f) => join(tarballs, f))], project);
  }, 900_000);

  afterAll(async () => {
    if (server?.pid && server.exitCode === null) {
      const closed = new Promise((r) => server!.once('close', r));
      process.kill(-server.pid, 'SIGTERM'); // npx and the server it started
      await closed;
    }
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it('npx press --version', () => {
    expect(sh('npx', ['press', '--version'], project)).toBe(`${VERSION}\n`);
    expect(sh('npx', ['press-cloud', '--version'], project)).toBe(`${VERSION}\n`);
  });

  it('npx press render: a Press.js press.toml, locally', async () => {
    cpSync(join(ROOT, 'examples/invoice'), join(project, 'app'), { recursive: true });
    writeFileSync(
      join(project, 'press.toml'),
      `workspace = "."\n\n[playwright]\nformat = "A4"\n\n[runtime.env]\nCOMPANY_NAME = "Packed Widgets"\n\n` +
        `[pdf.invoice]\ndir = "app"\npayload_path = "app/payload.json"\noutput = "out/invoice.pdf"\n`,
    );
    expect(sh('npx', ['press', 'render'], project)).toMatch(/^rendered invoice locally → out\/invoice\.pdf \(\d+ pages/);
    const text = await pdfText(readFileSync(join(project, 'out/invoice.pdf')));
    for (const s of ['Packed Widgets', 'INV-2026-0042']) expect(text).toContain(s);
  }, 120_000);

  it('npx press-cloud serve, then press render --remote and a plain .mjs with the SDK against it', async () => {
    server = spawn('npx', ['press-cloud', 'serve'], {
      cwd: project,
      env: userEnv({ PORT: '0', HOST: '127.0.0.1', PRESS_DATA_DIR: join(project, '.press-data') }),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let banner = '';
    const creds = await new Promise<{ api: string; token: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`press-cloud serve did not start:\n${banner}`)), 120_000);
      server!.stdout!.resume();
      server!.stderr!.on('data', (d) => {
        banner += d;
        const api = /export PRESS_CLOUD_API=(\S+)/.exec(banner);
        const token = /export PRESS_CLOUD_TOKEN=(\S+)/.exec(banner);
        if (api && token) {
          clearTimeout(timer);
          resolve({ api: api[1], token: token[1] });
        }
      });
      server!.on('close', (code) => reject(new Error(`press-cloud serve exited ${code}:\n${banner}`)));
    });
    const env = userEnv({ PRESS_CLOUD_API: creds.api, PRESS_CLOUD_TOKEN: creds.token });

    // the package ships the built dashboard, served at /
    const page = await fetch(`${creds.api}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect((await fetch(creds.api + script)).status).toBe(200);

    // the embedded store runs on the driver this Node gets: node:sqlite (Node 22.16+), else the optional better-sqlite3
    const ready = (await (await fetch(`${creds.api}/readyz`)).json()) as { checks: { database: { detail: string } } };
    expect(ready.checks.database.detail).toMatch(new RegExp(`^sqlite:.*\\(${sqliteDriver().name}\\)$`));

    const remote = sh('npx', ['press', 'render', '--remote', '--out', 'remote.pdf'], project, env);
    expect(remote).toMatch(/^rendered invoice on http:\/\/127\.0\.0\.1:\d+ → remote\.pdf/);
    expect(await pdfText(readFileSync(join(project, 'remote.pdf')))).toContain('Packed Widgets');

    mkdirSync(join(project, 'scripts'));
    writeFileSync(
      join(project, 'scripts/render.mjs'),
      `import { readFile } from 'node:fs/promises';
import { PressCloud } from '@press-cloud/sdk';
import { listFiles } from '@press-cloud/sdk/node';

const client = new PressCloud(); // PRESS_CLOUD_API, PRESS_CLOUD_TOKEN
const files = await listFiles('app');
const { deployId } = await client.deployDirectory('app', { slug: 'sdk-invoice' });
const payload = JSON.parse(await readFile('app/payload.json', 'utf8'));
const job = await client.render({ deployId, payload }, { wait: 60 });
if (job.status !== 'succeeded') throw new Error(\`job \${job.id} \${job.status}\`);
const saved = await client.download(job.id, { to: 'sdk.pdf' });
console.log(JSON.stringify({ files: files.length, pages: job.output.pageCount, bytes: saved.bytes }));
`,
    );
    // the SDK on every Node of this machine (CI: the Node 26 or 24 running this test, the other one, and the system's Node 20)
    const nodes = [...new Set([process.execPath, ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'node'))]
      .filter((p) => existsSync(p)).map((p) => realpathSync(p)))];
    for (const node of nodes) {
      rmSync(join(project, 'sdk.pdf'), { force: true });
      const result = JSON.parse(sh(node, ['scripts/render.mjs'], project, env));
      const version = sh(node, ['--version'], project).trim();
      expect(result.files, version).toBeGreaterThan(0);
      expect(result.pages, version).toBeGreaterThanOrEqual(2);
      expect(await pdfText(readFileSync(join(project, 'sdk.pdf'))), version).toContain('INV-2026-0042');
    }
  }, 240_000);
});
