import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureServerBuilt } from '../helpers/build.js';
import { ROOT, runProcess } from '../helpers/processes.js';
import { startTestBackend } from '../helpers/server.js';

const BIN = join(ROOT, 'bin/press-cloud.js');
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;

/** The built `press-cloud` (bin/press-cloud.js → dist/) as a child process. */
const run = (args: string[], env: Record<string, string> = {}, input?: string) =>
  runProcess(process.execPath, [BIN, ...args], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, input });

/** `serve` in the background until its banner names the URL (and the bootstrap key, on an empty data dir). */
function serve(env: Record<string, string>, command: string[] = [process.execPath, BIN, 'serve']): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(command[0], command.slice(1), { cwd: ROOT, env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output}`)), 60_000);
    const onData = (d: Buffer) => {
      output += d;
      const m = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('close', (code) => reject(new Error(`serve exited ${code}:\n${output}`)));
  });
}

const stop = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : (child.once('close', () => resolve()), child.kill('SIGTERM'))));

describe('press-cloud, the operator CLI (built, child process)', () => {
  const children: ChildProcess[] = [];
  const backends: { stop(): Promise<void> }[] = [];
  /** A fresh store: a data dir, plus PostgreSQL and S3 under PRESS_TEST_BACKEND=distributed. */
  const store = async () => {
    const b = await startTestBackend();
    backends.push(b);
    return { PRESS_DATA_DIR: mkdtempSync(join(tmpdir(), 'press-operator-')), ...b.env };
  };
  beforeAll(() => ensureServerBuilt(), 300_000);
  afterAll(async () => {
    await Promise.all(children.map(stop));
    await Promise.all(backends.map((b) => b.stop()));
  });

  it('--version and --help on every command', async () => {
    for (const flag of ['--version', '-v']) expect(await run([flag])).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    const top = await run(['--help']);
    expect(top.code).toBe(0);
    for (const cmd of ['serve', 'accounts list', 'accounts create', 'accounts set-plan', 'accounts disable', 'accounts enable', 'keys create', 'keys list', 'keys disable', 'keys enable', 'users create', 'users reset-password', 'migrate-store']) {
      expect(top.stdout).toContain(`press-cloud ${cmd}`);
      const help = await run([...cmd.split(' '), '--help']);
      expect(help.code, cmd).toBe(0);
      expect(help.stdout, cmd).toMatch(/^Usage/);
      expect(help.stdout, cmd).toContain(`press-cloud ${cmd}`);
    }
    const unknown = await run(['accounts', 'rename']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown command "accounts rename"');
  }, 120_000);

  it('accounts create|set-plan, keys create|list|disable|enable', async () => {
    const env = await store();
    const created = await run(['accounts', 'create', 'acme', '--plan', 'free'], env);
    expect(created.code, created.stderr).toBe(0);
    const accountId = created.stdout.trim();
    expect(accountId).toMatch(/^acct_/);
    const plan = await run(['accounts', 'set-plan', 'acme', 'pro'], env);
    expect(plan).toMatchObject({ code: 0, stdout: `acme (${accountId}): plan free → pro\n` });
    expect((await run(['accounts', 'set-plan', 'acme', 'gold'], env)).code).toBe(2);
    expect((await run(['accounts', 'set-plan', 'nobody', 'pro'], env)).stderr).toContain('No account "nobody"');

    const key = (await run(['keys', 'create', '--account', accountId, '--role', 'viewer', '--name', 'ci'], env)).stdout.trim();
    expect(key).toMatch(/^pcak_/);
    const list = await run(['keys', 'list', '--account', 'acme'], env);
    expect(list.code, list.stderr).toBe(0);
    const [header, row] = list.stdout.trim().split('\n');
    expect(header).toMatch(/^ID\s+PREFIX\s+ROLE\s+NAME\s+CREATED\s+LAST USED\s+DISABLED$/);
    const keyId = row.split(/\s+/)[0];
    expect(row).toMatch(/^key_\S+\s+pcak_\S+\s+viewer\s+ci\s+\d{4}-\S+\s+-\s+-$/);
    expect(await run(['keys', 'disable', keyId, '--account', 'acme'], env)).toMatchObject({ code: 0, stdout: `disabled ${keyId}\n` });
    expect((await run(['keys', 'list', '--account', 'acme'], env)).stdout.trim().split('\n')[1]).toMatch(/\d{4}-\d\d-\d\dT\S+Z$/);
    expect(await run(['keys', 'enable', keyId, '--account', 'acme'], env)).toMatchObject({ code: 0, stdout: `enabled ${keyId}\n` });
    expect((await run(['keys', 'list', '--account', 'acme'], env)).stdout.trim().split('\n')[1]).toMatch(/\s-$/);
    expect((await run(['keys', 'enable', 'key_nope', '--account', 'acme'], env)).stderr).toContain('No API key key_nope');
  }, 120_000);

  it('accounts list [--json] and accounts disable|enable (the refusal itself: test/render/account-disabled.test.ts)', async () => {
    const env = await store();
    const acme = (await run(['accounts', 'create', 'acme', '--plan', 'starter'], env)).stdout.trim();
    const beta = (await run(['accounts', 'create', 'beta'], env)).stdout.trim();
    expect(await run(['accounts', 'disable', 'beta'], env)).toMatchObject({ code: 0, stdout: `beta (${beta}): disabled\n` });
    expect(await run(['accounts', 'disable', beta], env)).toMatchObject({ code: 0, stdout: `beta (${beta}): already disabled\n` });

    const table = await run(['accounts', 'list'], env);
    expect(table.code, table.stderr).toBe(0);
    const [header, ...rows] = table.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID\s+NAME\s+PLAN\s+CREATED\s+DISABLED$/);
    expect(rows).toHaveLength(2); // newest first; an empty store gets no "default" from operator commands
    expect(rows[0]).toMatch(new RegExp(`^${beta}\\s+beta\\s+unlimited\\s+\\d{4}-\\S+Z\\s+\\d{4}-\\d\\d-\\d\\dT\\S+Z$`));
    expect(rows[1]).toMatch(new RegExp(`^${acme}\\s+acme\\s+starter\\s+\\d{4}-\\S+Z\\s+-$`));

    const json = await run(['accounts', 'list', '--json'], env);
    expect(json.code, json.stderr).toBe(0);
    const accounts = JSON.parse(json.stdout);
    expect(accounts).toEqual([
      { id: beta, name: 'beta', plan: 'unlimited', personalUserId: null, createdAt: expect.any(Number), disabledAt: expect.any(Number) },
      { id: acme, name: 'acme', plan: 'starter', personalUserId: null, createdAt: expect.any(Number), disabledAt: null },
    ]);

    expect(await run(['accounts', 'enable', 'beta'], env)).toMatchObject({ code: 0, stdout: `beta (${beta}): enabled\n` });
    expect(JSON.parse((await run(['accounts', 'list', '--json'], env)).stdout)[0].disabledAt).toBeNull();
    const missing = await run(['accounts', 'disable', 'nobody'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('No account "nobody"');
    expect((await run(['accounts', 'disable'], env)).code).toBe(2);
  }, 120_000);

  it('first run prints a one-time setup link; users create|reset-password work headless against the same store', async () => {
    const env = { ...(await store()), PRESS_PASSWORD_HASH_COST: '12' };
    const server = await serve(env);
    children.push(server.child);
    await new Promise((r) => setTimeout(r, 200));
    expect(server.output()).toMatch(new RegExp(`Finish setup: .*\\n\\n  ${server.url.replace(/[.]/g, '\\.')}/setup#token=pcsetup_[A-Za-z0-9_-]+`));

    const created = await run(['users', 'create', '--email', 'Ops@Example.com', '--workspace', 'default'], env);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout.trim()).toMatch(/^usr_/);
    const password = /shown only this once\): (\S+)/.exec(created.stderr)![1];
    const signIn = (pw: string) => fetch(`${server.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'ops@example.com', password: pw }) });
    const res = await signIn(password);
    expect(res.status).toBe(201);
    const cookie = res.headers.get('set-cookie')!.split(';')[0];
    const workspaces = await (await fetch(`${server.url}/v1/workspaces`, { headers: { cookie } })).json();
    expect(workspaces.items.map((w: { name: string; role: string }) => `${w.name}:${w.role}`).sort()).toEqual(['default:owner', 'ops@example.com:owner']);
    expect((await run(['users', 'create', '--email', 'ops@example.com'], env)).stderr).toContain('already exists');
    expect((await run(['users', 'create', '--email', 'two@example.com', '--workspace', 'default'], env)).stderr).toContain('already has an owner');

    const reset = await run(['users', 'reset-password', '--email', 'ops@example.com', '--password-stdin'], env, 'a new operator password\n');
    expect(reset.code, reset.stderr).toBe(0);
    expect((await fetch(`${server.url}/v1/session`, { headers: { cookie } })).status).toBe(401);
    expect((await signIn(password)).status).toBe(401);
    expect((await signIn('a new operator password')).status).toBe(201);
  }, 180_000);

  it('a second serve on a busy port says so in one line; logs are JSON off a terminal and pretty on one', async () => {
    const first = await serve({ ...(await store()), LOG_LEVEL: 'info' });
    children.push(first.child);
    const port = new URL(first.url).port;
    const second = await run(['serve'], { ...(await store()), PORT: port, HOST: '127.0.0.1' });
    expect(second.code).toBe(1);
    // Node's own process warnings (the AWS SDK warns on Node 20 when S3 is configured) are not ours: drop them,
    // then our answer must be exactly one line, with no stack trace
    const ours = second.stderr.replace(/^\(node:\d+\) [\s\S]*?\(Use `node --trace-warnings \.\.\.` to show where the warning was created\)\n/m, '');
    expect(ours).toBe(`press-cloud: port ${port} on 127.0.0.1 is already in use (another press-cloud?); set PORT to another port.\n`);
    // stdout is a pipe here: one JSON object per line
    const listening = first.output().split('\n').find((l) => l.includes('Server listening'));
    expect(JSON.parse(listening!)).toMatchObject({ level: 30, msg: expect.stringContaining('Server listening') });

    // on a terminal (script(1) gives it one): pino-pretty's human-readable lines
    const vars = Object.entries(await store()).map(([k, v]) => `${k}='${v}'`).join(' ');
    const tty = await serve({}, ['script', '-qfec', `env PORT=0 HOST=127.0.0.1 LOG_LEVEL=info ${vars} ${process.execPath} ${BIN} serve`, '/dev/null']);
    children.push(tty.child);
    const t0 = Date.now();
    while (!/INFO.*Server listening/.test(tty.output()) && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 100));
    expect(tty.output()).toMatch(/\[\d\d:\d\d:\d\d\.\d{3}\] \S*INFO\S*: \S*Server listening at http/);
    expect(tty.output()).not.toContain('"level":30');
  }, 180_000);
});
