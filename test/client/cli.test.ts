import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import { pdfPagesText } from '../helpers/pdf.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { cleanEnv, INVOICE_DIR, NEVER_READY_DIR, press, project, q, SIMPLE_DIR } from './support.js';

const COMPANY = 'Acme Widgets International';
const SECRET = 'sk_cli_secret_7d1e9f';

/** press.toml for the sample invoice: env from [runtime.env], a secret via .dev.vars, the payload file. */
const invoiceToml = `
[runtime.env]
COMPANY_NAME = ${q(COMPANY)}

[runtime.secrets]
BILLING_TOKEN = "CLI_TEST_BILLING_TOKEN"

[pdf.invoice]
dir = ${q(INVOICE_DIR)}
payload_path = ${q(join(INVOICE_DIR, 'payload.json'))}
output = "out/invoice.pdf"

[pdf.invoice.runtime.env]
FOOTER = "Rendered by the press CLI"
`;

describe('press CLI (child process) against a real server', () => {
  let s: TestServer;
  let env: NodeJS.ProcessEnv;
  let configHome: string;

  beforeAll(async () => {
    s = await startTestServer({ PRESS_RENDER_TIMEOUT_MS: '20000' });
    configHome = mkdtempSync(join(tmpdir(), 'press-cli-home-'));
    env = cleanEnv({ PRESS_CLOUD_API: s.url, PRESS_CLOUD_TOKEN: s.adminKey, XDG_CONFIG_HOME: configHome });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('--help lists every command, the credentials and the exit codes; render --help every flag and press.toml key', async () => {
    const top = await press(['--help'], { env });
    expect(top.code).toBe(0);
    for (const word of ['render', 'deploy', 'jobs', 'pdfs', 'usage', 'login', 'logout', 'whoami', 'completion', 'Exit codes', 'PRESS_CLOUD_TOKEN', 'PRESS_PROFILE', '6  timeout']) expect(top.stdout).toContain(word);
    const render = await press(['render', '--help'], { env });
    expect(render.code).toBe(0);
    for (const flag of ['--config', '--out', '--timeout', '--watch', '--profile', '--timing-detail', '--remote', '--save-version', '--remote-output', '--token', '--api-base', '--deploy-id', '--slug', '--name', '--business-key', '--json']) {
      expect(render.stdout).toContain(flag);
    }
    for (const key of ['workspace', '[playwright]', 'build', '[runtime.env]', '[runtime.secrets]', '.dev.vars', '[pdf.<name>]', 'payload_path', 'output', 'dir']) expect(render.stdout).toContain(key);
    const usage = await press(['render', '--no-such-flag'], { env });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^press: unknown option '--no-such-flag' \(usage_error\)/);
  }, 60_000);

  it('press render with two entries and no name fails with the list of entries (exit 2)', async () => {
    const dir = project(`[pdf.invoice]\ndir = ${q(INVOICE_DIR)}\n\n[pdf.simple]\ndir = ${q(SIMPLE_DIR)}\noutput = "s.pdf"\n`);
    const r = await press(['render'], { env, cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('has 2 entries');
    expect(r.stderr).toMatch(/^\s+invoice\s+\S+index\.html → invoice\.pdf$/m);
    expect(r.stderr).toMatch(/^\s+simple\s+\S+index\.html → s\.pdf$/m);
    expect(r.stderr).toMatch(/^press: \S+press\.toml has 2 entries; name one: press render <entry> \(entry_required\)\n/);
    const unknown = await press(['render', 'nope', '--json'], { env, cwd: dir });
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ error: 'entry_not_found', exitCode: 2 });
    expect(existsSync(join(dir, 'invoice.pdf'))).toBe(false);
  }, 60_000);

  it('press.toml problems exit 2 naming the key, file and line; workspace is the base directory', async () => {
    const typo = await press(['render'], { env, cwd: project(`[pdf.a]\ndir = ${q(SIMPLE_DIR)}\npayload-path = "x.json"\n`) });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/press\.toml:3: pdf\.a\.payload-path is not a known key here .*\(invalid_config\)/);
    const secret = await press(['render'], { env, cwd: project(`[runtime.secrets]\nTOKEN = "PRESS_TEST_UNSET_VAR"\n[pdf.a]\ndir = ${q(SIMPLE_DIR)}\n`) });
    expect(secret.code).toBe(2);
    expect(secret.stderr).toContain('PRESS_TEST_UNSET_VAR, which is not set');
    expect(secret.stderr).toContain('(secret_not_set)');
    const localOnly = await press(['render', '--save-version'], { env, cwd: project(`[pdf.a]\ndir = ${q(SIMPLE_DIR)}\n`) });
    expect(localOnly.code).toBe(2);
    expect(localOnly.stderr).toContain('--save-version only apply with --remote');

    // workspace: relative paths start there (not an account: the API key decides that)
    const based = project(`workspace = ${q(SIMPLE_DIR)}\n[pdf.a]\ndir = "."\n`);
    const mine = await press(['render', '--remote', '--json', '--out', join(based, 'a.pdf')], { env, cwd: based });
    expect(mine.code, mine.stderr).toBe(0);
    expect(JSON.parse(mine.stdout)).toMatchObject({ mode: 'remote', entry: 'a', temporaryDeploy: true, output: join(based, 'a.pdf') });
  }, 90_000);

  it('local render of the sample invoice equals the remote render (pages and text); the temporary deploy is removed', async () => {
    const dir = project(invoiceToml, { '.dev.vars': `# local secrets\nCLI_TEST_BILLING_TOKEN="${SECRET}"\n` });
    const local = await press(['render', '--timing-detail'], { env, cwd: dir });
    expect(local.code, local.stderr).toBe(0);
    expect(local.stdout).toMatch(/rendered invoice locally → out\/invoice\.pdf \(\d+ pages/);
    for (const step of ['launch', 'queue', 'render', 'write']) expect(local.stderr).toMatch(new RegExp(`^timing: ${step}\\s+\\d+ ms$`, 'm'));
    const localPdf = readFileSync(join(dir, 'out/invoice.pdf'));

    const remote = await press(['render', 'invoice', '--remote', '--out', 'remote.pdf', '--timing-detail', '--business-key', 'INV-CLI-1'], { env, cwd: dir });
    expect(remote.code, remote.stderr).toBe(0);
    for (const step of ['hash', 'upload', 'queue', 'render', 'download']) expect(remote.stderr).toMatch(new RegExp(`^timing: ${step}\\s+\\d+ ms$`, 'm'));
    expect(remote.stdout).toContain('temporary deploy removed');
    const remotePdf = readFileSync(join(dir, 'remote.pdf'));

    const [localPages, remotePages] = [await pdfPagesText(localPdf), await pdfPagesText(remotePdf)];
    expect(localPages.length).toBeGreaterThanOrEqual(2);
    expect(remotePages).toEqual(localPages);
    const text = localPages.join('\n');
    for (const expected of [COMPANY, 'INV-2026-0042', 'Globex Corporation', 'Miscellaneous expenses', 'Rendered by the press CLI']) expect(text).toContain(expected);
    expect(text).not.toContain(SECRET);

    const jobs = (await s.request('GET', '/v1/render-jobs?businessKey=INV-CLI-1')).body.items;
    expect(jobs).toHaveLength(1);
    expect(jobs[0].entry).toBe('index.html');
    const deploys = (await s.request('GET', '/v1/deploys?limit=100')).body.items;
    expect(deploys.filter((d: { slug: string }) => d.slug.startsWith('press-tmp-'))).toEqual([]);
    expect((await s.request('GET', `/v1/deploys/${jobs[0].deployId}`)).status).toBe(404);
  }, 180_000);

  it('--remote --save-version keeps the version; the second run uploads nothing; --json is machine-readable', async () => {
    const dir = project(invoiceToml, { '.dev.vars': `CLI_TEST_BILLING_TOKEN=${SECRET}\n` });
    const args = ['render', '--remote', '--save-version', '--slug', 'cli-invoice', '--name', 'CLI invoice', '--json'];
    const first = await press(args, { env, cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    const a = JSON.parse(first.stdout);
    expect(a).toMatchObject({ mode: 'remote', entry: 'invoice', temporaryDeploy: false });
    expect(a.pageCount).toBeGreaterThanOrEqual(2);
    expect(first.stderr).toBe(''); // quiet off a TTY: no progress bars
    const second = JSON.parse((await press(args, { env, cwd: dir })).stdout);
    expect(second.deployId).toBe(a.deployId);
    expect(second.deployVersionId).not.toBe(a.deployVersionId);
    expect(second.uploaded).toEqual({ files: 0, bytes: 0 });

    const deploy = (await s.request('GET', `/v1/deploys/${a.deployId}`)).body.deploy;
    expect(deploy).toMatchObject({ slug: 'cli-invoice', name: 'CLI invoice', latestVersionId: second.deployVersionId });
    const settings = (await s.request('GET', `/v1/deploys/${a.deployId}/settings`)).body.settings;
    expect(settings.env).toMatchObject({ COMPANY_NAME: COMPANY, FOOTER: 'Rendered by the press CLI' });
    expect(settings.secrets).toEqual(['BILLING_TOKEN']);
  }, 180_000);

  it('a bad token exits 3 with invalid_api_key; no token at all exits 3 too', async () => {
    const r = await press(['usage', '--token', 'pcak_wrong-key-0000000000000000000000000000000'], { env });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^press: .+ \(invalid_api_key\)\n$/);
    const dir = project(invoiceToml, { '.dev.vars': `CLI_TEST_BILLING_TOKEN=x\n` });
    const remote = await press(['render', '--remote', '--token', 'pcak_wrong'], { env, cwd: dir });
    expect(remote.code).toBe(3);
    expect(remote.stderr).toContain('(invalid_api_key)');
    const none = await press(['usage'], { env: cleanEnv({ PRESS_CLOUD_API: s.url, XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), 'press-empty-')) }) });
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('press login');
  }, 60_000);

  it('an unknown deploy, job or PDF exits 4 saying "no such …" (no API pattern or JSON path)', async () => {
    const dir = project(`[pdf.simple]\ndir = ${q(SIMPLE_DIR)}\n`);
    const id = newId('dpl');
    const r = await press(['render', '--remote', '--save-version', '--deploy-id', id], { env, cwd: dir });
    expect(r.code).toBe(4);
    expect(r.stderr).toBe(`press: no such deploy ${id} (deploy_not_found)\n`);
    for (const args of [['render', '--remote', '--deploy-id', 'dpl_nope'], ['deploy', SIMPLE_DIR, '--deploy-id', 'dpl_nope']]) {
      const nope = await press(args, { env, cwd: dir });
      expect(nope.code, nope.stderr).toBe(4);
      expect(nope.stderr).toMatch(/^press: no such deploy dpl_nope \(deploy_not_found\)\n$/);
    }
    for (const [args, what] of [[['jobs', 'get', 'rj_nope'], 'render job'], [['pdfs', 'get', 'pdf_nope'], 'managed PDF']] as const) {
      const nope = await press([...args], { env });
      expect(nope.code).toBe(4);
      expect(nope.stderr).toContain(`no such ${what}`);
      expect(nope.stderr).not.toMatch(/pattern|params\.|body\./);
    }
    const deploy = await press(['deploy', SIMPLE_DIR, '--deploy-id', newId('dpl')], { env });
    expect(deploy.code).toBe(4);
    const job = await press(['jobs', 'get', newId('rj'), '--json'], { env });
    expect(job.code).toBe(4);
    expect(JSON.parse(job.stdout)).toMatchObject({ error: 'render_job_not_found', exitCode: 4 });
    const pdf = await press(['pdfs', 'get', newId('pdf')], { env });
    expect(pdf.code).toBe(4);
    expect(pdf.stderr).toContain('(pdf_not_found)');
  }, 60_000);

  it('a render that outlives --timeout exits 6, locally and remotely (the remote job gets --timeout as its render limit)', async () => {
    const dir = project(`[pdf.never]\ndir = ${q(NEVER_READY_DIR)}\n`);
    const seconds = await press(['render', '--timeout', '2s'], { env, cwd: dir });
    expect(seconds.code).toBe(2);
    expect(seconds.stderr).toContain('--timeout 2s: expected a whole number of milliseconds');
    const local = await press(['render', '--timeout', '2000'], { env, cwd: dir });
    expect(local.code).toBe(6);
    expect(local.stderr).toMatch(/\(render_timeout\)\n$/);
    const remote = await press(['render', '--remote', '--timeout', '2000', '--business-key', 'never-cli'], { env, cwd: dir });
    expect(remote.code).toBe(6);
    // the server ended it at the CLI's limit (not its own 20 s), saying what the page was waiting for
    expect(remote.stderr).toMatch(/render did not finish within 2000 ms while waiting for .*\(render_timeout\)\n$/);
    const jobs = (await s.request('GET', '/v1/render-jobs?businessKey=never-cli')).body.items;
    expect(jobs.map((j: { status: string; timeoutMs: number }) => [j.status, j.timeoutMs])).toEqual([['failed', 2000]]);
    expect(existsSync(join(dir, 'never.pdf'))).toBe(false);

    // Ctrl-C while waiting: exit 130, the job is canceled and the temporary deploy removed
    const interrupted = await press(['render', '--remote', '--business-key', 'sigint-cli'], {
      env, cwd: dir,
      onSpawn: (child) => {
        const poll = setInterval(async () => {
          const items = (await s.request('GET', '/v1/render-jobs?businessKey=sigint-cli')).body?.items ?? [];
          if (items.length) {
            clearInterval(poll);
            child.kill('SIGINT');
          }
        }, 200);
        child.on('close', () => clearInterval(poll));
      },
    });
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toContain('(interrupted)');
    const [job] = (await s.request('GET', '/v1/render-jobs?businessKey=sigint-cli')).body.items;
    expect(job.status).toBe('canceled');
    expect((await s.request('GET', `/v1/deploys/${job.deployId}`)).status).toBe(404);
  }, 120_000);

  it('press login stores {apiBase, token} with mode 0600 from stdin without echoing it; later commands use it', async () => {
    const home = mkdtempSync(join(tmpdir(), 'press-login-'));
    const loginEnv = cleanEnv({ XDG_CONFIG_HOME: home });
    const bad = await press(['login', '--api-base', s.url], { env: loginEnv, input: 'pcak_not-valid\n' });
    expect(bad.code).toBe(3);
    expect(existsSync(join(home, 'press-cloud/config.json'))).toBe(false);

    const r = await press(['login', '--api-base', s.url], { env: loginEnv, input: `${s.adminKey}\n` });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(s.adminKey);
    const file = join(home, 'press-cloud/config.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, 'press-cloud')).mode & 0o077).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ profiles: { default: { apiBase: s.url, token: s.adminKey } } });

    const usage = await press(['usage', '--json'], { env: loginEnv });
    expect(usage.code, usage.stderr).toBe(0);
    expect(JSON.parse(usage.stdout)).toHaveProperty('policy');
  }, 60_000);

  it('press deploy, jobs list|get|cancel, pdfs list|get|download|delete', async () => {
    const deployed = await press(['deploy', INVOICE_DIR, '--slug', 'cli-deploy', '--alias', 'preview', '--json'], { env });
    expect(deployed.code, deployed.stderr).toBe(0);
    const d = JSON.parse(deployed.stdout);
    // examples/press.toml names invoice/payload.json as a payload: never uploaded as a file of the app
    expect(d).toMatchObject({ deployCreated: true, files: 6, aliases: ['preview'] });
    const files = (await s.request('GET', `/v1/deploys/${d.deployId}/versions/${d.deployVersion.id}/files`)).body.items.map((f: { path: string }) => f.path);
    expect(files).not.toContain('payload.json');
    const again = await press(['deploy', INVOICE_DIR, '--slug', 'cli-deploy'], { env });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/uploaded 0 \(0 B\)/);
    expect((await press(['deploy', INVOICE_DIR], { env })).code).toBe(2);

    const dir = project(invoiceToml, { '.dev.vars': `CLI_TEST_BILLING_TOKEN=${SECRET}\n` });
    const managed = await press(
      ['render', '--remote', '--save-version', '--deploy-id', d.deployId, '--remote-output', 'managed', '--business-key', 'INV-MANAGED', '--json'],
      { env, cwd: dir },
    );
    expect(managed.code, managed.stderr).toBe(0);
    const { jobId, pdfId } = JSON.parse(managed.stdout);
    expect(pdfId).toMatch(/^pdf_/);

    const list = JSON.parse((await press(['jobs', 'list', '--business-key', 'INV-MANAGED', '--json'], { env })).stdout);
    expect(list.items.map((j: { id: string }) => j.id)).toEqual([jobId]);
    const human = await press(['jobs', 'list', '--deploy-id', d.deployId, '--limit', '5'], { env });
    expect(human.stdout).toMatch(new RegExp(`^${jobId}\\s+succeeded\\s+${d.deployId}\\s+INV-MANAGED`, 'm'));
    const got = await press(['jobs', 'get', jobId], { env });
    expect(got.stdout).toContain(`job ${jobId}: succeeded`);
    expect(got.stdout).toContain(`managed PDF ${pdfId}`);
    const cancel = await press(['jobs', 'cancel', jobId], { env });
    expect(cancel.code).toBe(1);
    expect(cancel.stderr).toContain('(render_job_already_terminal)');

    const pdfs = JSON.parse((await press(['pdfs', 'list', '--deploy-id', d.deployId, '--json'], { env })).stdout);
    expect(pdfs.items.map((p: { id: string }) => p.id)).toEqual([pdfId]);
    expect((await press(['pdfs', 'get', pdfId], { env })).stdout).toContain(`pdf ${pdfId}: INV-MANAGED.pdf`);
    const out = mkdtempSync(join(tmpdir(), 'press-dl-'));
    const dl = await press(['pdfs', 'download', pdfId], { env, cwd: out });
    expect(dl.code, dl.stderr).toBe(0);
    expect(readFileSync(join(out, 'INV-MANAGED.pdf')).subarray(0, 5).toString()).toBe('%PDF-');
    expect((await press(['pdfs', 'delete', pdfId], { env })).code).toBe(0);
    expect((await press(['pdfs', 'get', pdfId], { env })).code).toBe(4);
  }, 180_000);
});
