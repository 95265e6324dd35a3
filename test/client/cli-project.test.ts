import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PDFDocument } from 'pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pdfText } from '../helpers/pdf.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { runProcess } from '../helpers/processes.js';
import { cleanEnv, press, PRESS_BIN, project, q, REPO, SIMPLE_DIR } from './support.js';

/** A document that prints its env var LABEL and the secret's length, and is ready when it has. */
const LABEL_HTML = `<!doctype html><html data-press-wait="manual"><body><h1 id="t">…</h1><script>
(async () => {
  const env = await pressCloud.env.all();
  document.getElementById('t').textContent = 'label ' + env.LABEL + ' / built ' + document.body.dataset.built;
  pressCloud.ready();
})();
</script></body></html>`;

/**
 * A Press.js project as its docs describe it: `workspace = "."`, [playwright] defaults with a per-entry
 * override, a build command writing the app into dist/ from the environment, .dev.vars in the entry's workspace.
 */
function pressJsProject(): string {
  const root = project(`
workspace = "."

[playwright]
format = "A4"
printBackground = true
margin = { top = "1cm", bottom = "1cm" }
timeout = 30000

[runtime.env]
LABEL = "from-press-toml"

[pdf.letter]
workspace = "app"
build = "node build.mjs"
dir = "dist"
output = "out/letter.pdf"
landscape = true
`);
  const app = join(root, 'app');
  mkdirSync(app);
  writeFileSync(
    join(app, 'build.mjs'),
    `import { mkdirSync, writeFileSync } from 'node:fs';
mkdirSync('dist', { recursive: true });
writeFileSync('dist/index.html', ${JSON.stringify(LABEL_HTML)}.replace('<body>', '<body data-built="' + process.env.BUILD_MODE + '-' + process.env.BUILD_FLAVOUR + '">'));
`,
  );
  // .dev.vars of the entry's workspace; the process environment (BUILD_MODE below) wins over it
  writeFileSync(join(app, '.dev.vars'), 'BUILD_MODE=dev-vars\nBUILD_FLAVOUR=vanilla\n');
  return root;
}

async function pageSize(pdf: Buffer): Promise<{ width: number; height: number }> {
  const { width, height } = (await PDFDocument.load(pdf)).getPage(0).getSize();
  return { width: Math.floor(width), height: Math.floor(height) };
}

describe('press and press.toml as Press.js documents them (built CLI, child process)', () => {
  let s: TestServer;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    s = await startTestServer({ PRESS_RENDER_TIMEOUT_MS: '20000' });
    env = cleanEnv({ PRESS_CLOUD_API: s.url, PRESS_CLOUD_TOKEN: s.adminKey, XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), 'press-cli-home-')) });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('-v and --version print the package version, fast (no command code loaded)', async () => {
    const version = JSON.parse(readFileSync(join(REPO, 'packages/cli/package.json'), 'utf8')).version;
    for (const flag of ['-v', '--version']) {
      const r = await press([flag], { env });
      expect(r).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
    const time = async (args: string[]) => {
      let best = Infinity;
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await new Promise((resolve) => spawn(process.execPath, args, { stdio: 'ignore' }).on('close', resolve));
        best = Math.min(best, performance.now() - t0);
      }
      return best;
    };
    const node = await time(['-e', '0']);
    const cli = await time([PRESS_BIN, '--version']);
    // 150 ms on a quiet machine; on a busy one Node's own start-up is the yardstick
    expect(cli, `press --version ${cli.toFixed(0)} ms, node -e 0 ${node.toFixed(0)} ms`).toBeLessThan(Math.max(150, node + 50));
  }, 60_000);

  it('renders a Press.js press.toml locally: build, .dev.vars under the environment, [playwright] with per-entry overrides', async () => {
    const root = pressJsProject();
    const r = await press(['render', '--json'], { env: { ...env, BUILD_MODE: 'env' }, cwd: root });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ mode: 'local', entry: 'letter', output: join(root, 'app/out/letter.pdf') });
    const pdf = readFileSync(join(root, 'app/out/letter.pdf'));
    expect(await pdfText(pdf)).toContain('label from-press-toml / built env-vanilla');
    // A4 (595 × 842 pt) from [playwright], turned by the entry's landscape = true
    expect(await pageSize(pdf)).toEqual({ width: 842, height: 595 });

    // the same project on the server: a temporary deploy receives press.toml's env; the build ran first
    const remote = await press(['render', '--remote', '--out', join(root, 'remote.pdf')], { env: { ...env, BUILD_MODE: 'env' }, cwd: root });
    expect(remote.code, remote.stderr).toBe(0);
    expect(remote.stderr).not.toContain('print options');
    const remotePdf = readFileSync(join(root, 'remote.pdf'));
    expect(await pdfText(remotePdf)).toContain('label from-press-toml / built env-vanilla');
    expect(await pageSize(remotePdf)).toEqual({ width: 842, height: 595 }); // the print options went with the job
  }, 120_000);

  it('[playwright] print options give the same page size locally and on the server (the job\'s pdfOptions)', async () => {
    // (a CSS @page size would keep its own orientation in Chromium: landscape applies to documents without one)
    const root = project(
      `[playwright]\nformat = "A5"\nlandscape = true\nmargin = { top = "5mm" }\n\n[pdf.card]\ndir = "."\noutput = "card.pdf"\n`,
      { 'index.html': '<!doctype html><h1>card</h1>' },
    );
    const local = await press(['render'], { env, cwd: root });
    expect(local.code, local.stderr).toBe(0);
    const remote = await press(['render', '--remote', '--slug', 'card', '--json', '--out', join(root, 'remote.pdf')], { env, cwd: root });
    expect(remote.code, remote.stderr).toBe(0);
    const A5_LANDSCAPE = { width: 595, height: 420 }; // 210 × 148 mm, as Chromium rounds it to points
    expect(await pageSize(readFileSync(join(root, 'card.pdf')))).toEqual(A5_LANDSCAPE);
    expect(await pageSize(readFileSync(join(root, 'remote.pdf')))).toEqual(A5_LANDSCAPE);
    const job = (await s.request('GET', `/v1/render-jobs/${JSON.parse(remote.stdout).jobId}`)).body.job;
    expect(job.pdfOptions).toEqual({ format: 'A5', landscape: true, margin: { top: '5mm' } });

    // without options the server prints the document's CSS page size (none here: Letter), as before
    const plain = await s.request('POST', '/v1/render-jobs?wait=30', {
      json: { deployId: job.deployId, deployVersionId: job.deployVersionId },
    });
    expect(plain.status, plain.text).toBe(202);
    expect(plain.body.job).toMatchObject({ status: 'succeeded', pdfOptions: null });
    const bytes = Buffer.from(await (await fetch(`${s.url}/v1/render-jobs/${plain.body.job.id}/output`, { headers: { authorization: `Bearer ${s.adminKey}` } })).arrayBuffer());
    expect(await pageSize(bytes)).toEqual({ width: 612, height: 792 }); // Letter

    // the API checks them like any field
    const bad = await s.request('POST', '/v1/render-jobs', { json: { deployId: job.deployId, pdfOptions: { format: 'A7' } } });
    expect({ status: bad.status, error: bad.body.error }).toEqual({ status: 400, error: 'invalid_input' });
  }, 120_000);

  it('refuses unknown keys naming key, file and line; TOML syntax errors keep line and column; --timeout is in ms', async () => {
    const cases: [string, RegExp][] = [
      [`[playwright]\nformat = "A4"\npaperSize = "A4"\n`, /press\.toml:3: playwright\.paperSize is not a known key here \(known: format, landscape, margin/],
      [`[pdf.a]\ndir = "."\n\n[pdf.b]\ndir = "."\nmargin = { top = "1cm", middle = "2cm" }\n`, /press\.toml:6: pdf\.b\.margin\.middle is not a known key here/],
      [`workspace = "."\naccount = "acme"\n`, /press\.toml:2: account is not a known key here/],
      [`[pdf.a]\nscale = 5\n`, /press\.toml:2: pdf\.a\.scale must be a number from 0\.1 to 2/],
      [`[pdf.a]\ndir = "."\nentry = "index.html\n`, /press\.toml:3:\d+: invalid TOML/],
    ];
    for (const [toml, message] of cases) {
      const r = await press(['render'], { env, cwd: project(toml) });
      expect(r.code, toml).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/\(invalid_config\)\n$/);
    }
    const dir = project(`[pdf.a]\ndir = ${q(SIMPLE_DIR)}\n`);
    const ms = await press(['render', '--timeout', '30000', '--out', join(dir, 'a.pdf')], { env, cwd: dir });
    expect(ms.code, ms.stderr).toBe(0);
    const unit = await press(['render', '--timeout', '30s'], { env, cwd: dir });
    expect(unit.code).toBe(2);
    expect(unit.stderr).toContain('(invalid_timeout)');
  }, 120_000);

  it('--slug finds or creates without --save-version; an existing deploy keeps its own env and secrets', async () => {
    const root = pressJsProject();
    const run = (args: string[]) => press(['render', '--remote', '--json', ...args], { env: { ...env, BUILD_MODE: 'env' }, cwd: root });
    const created = await run(['--slug', 'pressjs-letter', '--name', 'Letter']);
    expect(created.code, created.stderr).toBe(0);
    const a = JSON.parse(created.stdout);
    expect(a).toMatchObject({ deployCreated: true, temporaryDeploy: false, versionSaved: false });
    expect((await s.request('GET', `/v1/deploys/${a.deployId}`)).body.deploy).toMatchObject({ slug: 'pressjs-letter', name: 'Letter' });
    // the deploy's settings are its own: change them on the server, the CLI must not overwrite them
    expect((await s.request('PATCH', `/v1/deploys/${a.deployId}/settings`, { json: { env: { LABEL: 'from-the-deploy' } } })).status).toBe(200);
    const again = await run(['--slug', 'pressjs-letter']);
    expect(again.code, again.stderr).toBe(0);
    const b = JSON.parse(again.stdout);
    expect(b).toMatchObject({ deployId: a.deployId, deployCreated: false });
    expect(await pdfText(readFileSync(b.output))).toContain('label from-the-deploy');
    const byId = await run(['--deploy-id', a.deployId, '--save-version', '--remote-output', 'managed', '--business-key', 'pressjs-1']);
    expect(byId.code, byId.stderr).toBe(0);
    expect(JSON.parse(byId.stdout)).toMatchObject({ deployId: a.deployId, versionSaved: true, pdfId: expect.stringMatching(/^pdf_/) });
    expect((await s.request('GET', `/v1/deploys/${a.deployId}/settings`)).body.settings.env).toEqual({ LABEL: 'from-the-deploy' });
    expect((await s.request('GET', '/v1/render-jobs?businessKey=pressjs-1')).body.items).toHaveLength(1);
  }, 180_000);

  it('press deploy never uploads the payload file, .dev.vars, press.toml or hidden files', async () => {
    const root = project(`[pdf.a]\ndir = "site"\npayload_path = "site/data/payload.json"\n`);
    const site = join(root, 'site');
    mkdirSync(join(site, 'data'), { recursive: true });
    mkdirSync(join(site, '.cache'));
    writeFileSync(join(site, 'index.html'), '<h1>site</h1>');
    writeFileSync(join(site, 'data/payload.json'), '{}');
    writeFileSync(join(site, 'data/other.json'), '{}');
    writeFileSync(join(site, '.dev.vars'), 'SECRET=x\n');
    writeFileSync(join(site, '.cache/x'), 'x');
    writeFileSync(join(site, 'data/press.toml'), '# a project file in the app\n');
    const r = await press(['deploy', site, '--slug', 'deploy-exclusions', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout);
    const files = (await s.request('GET', `/v1/deploys/${d.deployId}/versions/${d.deployVersion.id}/files`)).body.items.map((f: { path: string }) => f.path);
    expect(files.sort()).toEqual(['data/other.json', 'index.html']);
  }, 60_000);

  it('whoami, logout and profiles; a wrong key names its source', async () => {
    const home = mkdtempSync(join(tmpdir(), 'press-profiles-'));
    const base = cleanEnv({ XDG_CONFIG_HOME: home });
    const { keys } = await s.newAccount('staging-co');
    expect((await press(['login', '--profile', 'staging', '--api-base', s.url], { env: base, input: `${keys.viewer}\n` })).code).toBe(0);
    expect((await press(['login', '--api-base', s.url, '--token', s.adminKey], { env: base })).code).toBe(0);

    const who = await press(['whoami'], { env: base });
    expect(who.code, who.stderr).toBe(0);
    expect(who.stdout).toMatch(/^default \(acct_\w+\) on http/);
    expect(who.stdout).toContain('key from the stored login of profile "default"');
    const staging = await press(['whoami', '--json'], { env: { ...base, PRESS_PROFILE: 'staging' } });
    expect(JSON.parse(staging.stdout)).toMatchObject({ account: { name: 'staging-co' }, profile: 'staging' });
    expect(JSON.parse((await press(['whoami', '--json', '--profile', 'staging'], { env: base })).stdout).account.name).toBe('staging-co');

    const wrong = 'pcak_wrong-key-0000000000000000000000000000000';
    const fromFlag = await press(['whoami', '--token', wrong], { env: base });
    expect(fromFlag.code).toBe(3);
    expect(fromFlag.stderr).toContain('(the key came from --token)');
    const fromEnv = await press(['usage'], { env: { ...base, PRESS_CLOUD_TOKEN: wrong } });
    expect(fromEnv.stderr).toContain('(the key came from PRESS_CLOUD_TOKEN)');

    const out = await press(['logout', '--profile', 'staging'], { env: base });
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('removed the key of profile staging');
    const gone = await press(['whoami', '--profile', 'staging'], { env: base });
    expect(gone.code).toBe(3);
    expect(gone.stderr).toContain('press login --profile staging');
    expect((await press(['whoami'], { env: base })).code).toBe(0);
    expect(statSync(join(home, 'press-cloud/config.json')).mode & 0o777).toBe(0o600);

    const down = await press(['whoami', '--api-base', 'http://127.0.0.1:9', '--token', s.adminKey], { env: base });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('is the server at http://127.0.0.1:9 (from --api-base) up?');
  }, 60_000);

  it('press completion bash completes commands and flags; usage mistakes exit 2', async () => {
    const script = (await press(['completion', 'bash'], { env })).stdout;
    const complete = (words: string) =>
      new Promise<string>((resolve) => {
        const sh = `${script}\nCOMP_WORDS=(${words}); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _press_complete; echo "\${COMPREPLY[*]}"`;
        const child = spawn('bash', ['-c', sh], { stdio: ['ignore', 'pipe', 'inherit'] });
        let text = '';
        child.stdout.on('data', (d) => (text += d));
        child.on('close', () => resolve(text.trim()));
      });
    expect(await complete('press ren')).toBe('render');
    expect((await complete('press render --sl')).split(' ')).toEqual(['--slug']);
    expect((await complete('press jobs l')).split(' ')).toEqual(['list']);
    expect((await press(['completion', 'fish'], { env })).stdout).toContain("complete -c press -n '__fish_seen_subcommand_from render' -l watch");
    for (const args of [['completion', 'tcsh'], ['render', '--timeout'], ['nope'], ['render', '--slug', 'x']]) {
      expect((await press(args, { env })).code, args.join(' ')).toBe(2);
    }
  }, 60_000);

  it('press render --watch renders again when a file changes, until Ctrl-C', async () => {
    const root = project(`[pdf.w]\ndir = "app"\n`);
    mkdirSync(join(root, 'app'));
    writeFileSync(join(root, 'app/index.html'), '<h1>first version</h1>');
    let stdout = '';
    let child: import('node:child_process').ChildProcess | undefined;
    const done = press(['render', '--watch'], { env, cwd: root, onSpawn: (c) => (child = c) });
    const waitFor = async (n: number) => {
      const t0 = Date.now();
      while (Date.now() - t0 < 60_000) {
        if ((stdout.match(/rendered w locally/g) ?? []).length >= n) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no render #${n}: ${stdout}`);
    };
    child!.stdout!.on('data', (d) => (stdout += d));
    await waitFor(1);
    expect(await pdfText(readFileSync(join(root, 'w.pdf')))).toContain('first version');
    writeFileSync(join(root, 'app/index.html'), '<h1>second version</h1>');
    await waitFor(2);
    expect(await pdfText(readFileSync(join(root, 'w.pdf')))).toContain('second version');
    child!.kill('SIGINT');
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);

  it('without the engine package, a local render says how to get it (a remote render needs none)', async () => {
    // the CLI installed with `npm install --omit=optional`: its own dependencies only, outside the repository
    const prefix = mkdtempSync(join(tmpdir(), 'press-no-engine-'));
    const mods = join(prefix, 'node_modules');
    mkdirSync(join(mods, '@press-cloud'), { recursive: true });
    cpSync(join(REPO, 'packages/cli/bin'), join(mods, '@press-cloud/cli/bin'), { recursive: true });
    cpSync(join(REPO, 'packages/cli/dist'), join(mods, '@press-cloud/cli/dist'), { recursive: true });
    cpSync(join(REPO, 'packages/cli/package.json'), join(mods, '@press-cloud/cli/package.json'));
    symlinkSync(join(REPO, 'packages/sdk'), join(mods, '@press-cloud/sdk'));
    symlinkSync(join(REPO, 'packages/cli/node_modules/commander'), join(mods, 'commander'));
    symlinkSync(join(REPO, 'node_modules/smol-toml'), join(mods, 'smol-toml'));
    const bin = join(mods, '@press-cloud/cli/bin/press.js');
    const dir = project(`[pdf.a]\ndir = ${q(SIMPLE_DIR)}\n`);
    const run = (args: string[]) => runProcess(process.execPath, [bin, ...args], { cwd: dir, env });
    const local = await run(['render']);
    expect(local.code).toBe(1);
    expect(local.stderr).toBe(
      'press: local renders need the render engine, which is not installed: npm install @press-cloud/engine (or render on a server with --remote) (engine_not_installed)\n',
    );
    const remote = await run(['render', '--remote', '--out', join(dir, 'a.pdf')]);
    expect(remote.code, remote.stderr).toBe(0);
    expect(existsSync(join(dir, 'a.pdf'))).toBe(true);
  }, 60_000);
});
