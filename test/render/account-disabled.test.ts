/**
 * An account the operator disables (`press-cloud accounts disable`, the built CLI as a child process on the server's
 * own store — SQLite, or PostgreSQL under test:distributed): its keys and sessions answer 403 account_disabled, its
 * queued jobs stay queued while other accounts' jobs render, and `accounts enable` gives both back.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/domain/users.js';
import { addMemberAsOperator } from '../../src/domain/workspaces.js';
import { ensureServerBuilt } from '../helpers/build.js';
import { deployDir } from '../helpers/deploy-dir.js';
import { ROOT, runProcess } from '../helpers/processes.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { PROBE_DIR, createJob, expectError, sleep, waitTerminal } from './support.js';

describe('a disabled account', () => {
  let s: TestServer;
  let acme: { accountId: string; keys: Record<string, string> };
  let other: { accountId: string; keys: Record<string, string> };
  let acmeDeploy: string;
  let otherDeploy: string;
  let cookie: string;

  /** `press-cloud …` (bin/press-cloud.js → dist/) on the test server's store */
  const operator = (...args: string[]) =>
    runProcess(process.execPath, [join(ROOT, 'bin/press-cloud.js'), ...args], { env: { ...process.env, ...s.env, LOG_LEVEL: 'warn' } });
  const jobRow = async (id: string) => (await s.sql<{ status: string; attempt: number }>('SELECT status, attempt FROM render_jobs WHERE id = ?', [id]))[0];

  beforeAll(async () => {
    ensureServerBuilt();
    s = await startTestServer({ PRESS_PASSWORD_HASH_COST: '12' });
    acme = await s.newAccount('acme');
    other = await s.newAccount('other');
    acmeDeploy = (await deployDir(s, PROBE_DIR, { slug: 'probe' }, { key: acme.keys.admin })).deployId;
    otherDeploy = (await deployDir(s, PROBE_DIR, { slug: 'probe' }, { key: other.keys.admin })).deployId;
    const { user } = await createUser(s.deps, { email: 'editor@example.com', password: 'a long enough password' });
    await addMemberAsOperator(s.deps, acme.accountId, user.id, 'editor');
    const res = await s.request('POST', '/v1/sessions', { key: null, json: { email: 'editor@example.com', password: 'a long enough password' } });
    expect(res.status, res.text).toBe(201);
    cookie = res.headers.get('set-cookie')!.split(';')[0];
  }, 300_000);
  afterAll(async () => {
    await s?.stop();
  });

  it('refuses its keys and sessions with 403 account_disabled, holds its queued jobs; enable gives both back', async () => {
    await s.worker.stop();
    let held: any;
    let rendered: any;
    try {
      held = await createJob(s, { deployId: acmeDeploy, payload: { n: 1 } }, { key: acme.keys.editor });
      rendered = await createJob(s, { deployId: otherDeploy, payload: { n: 2 } }, { key: other.keys.editor });
      const disabled = await operator('accounts', 'disable', 'acme');
      expect(disabled, disabled.stderr).toMatchObject({ code: 0, stdout: `acme (${acme.accountId}): disabled\n` });
    } finally {
      s.worker.start();
    }

    // every way in is refused: each key role, a signed-in member, reads and writes alike
    for (const key of Object.values(acme.keys)) expectError(await s.request('GET', '/v1/account', { key }), 403, 'account_disabled');
    expectError(await s.request('GET', `/v1/render-jobs/${held.id}`, { key: acme.keys.admin }), 403, 'account_disabled');
    expectError(await s.request('POST', '/v1/render-jobs', { key: acme.keys.editor, json: { deployId: acmeDeploy } }), 403, 'account_disabled');
    const asMember = { key: null, headers: { cookie, 'press-workspace': acme.accountId } };
    expectError(await s.request('GET', '/v1/deploys', asMember), 403, 'account_disabled');
    // the user's own pages do not act in the workspace: they still answer
    expect((await s.request('GET', '/v1/workspaces', { key: null, headers: { cookie } })).status).toBe(200);
    // a wrong key is still a wrong key (no hint that an account exists)
    expectError(await s.request('GET', '/v1/account', { key: 'pcak_not_a_key_of_anyone_here_at_all' }), 401, 'invalid_api_key');

    // other accounts render; the disabled account's queued job is not claimed
    expect((await waitTerminal(s, rendered.id, { key: other.keys.viewer })).status).toBe('succeeded');
    await s.worker.maintain();
    await sleep(300);
    expect(await jobRow(held.id)).toMatchObject({ status: 'queued', attempt: 0 });

    const enabled = await operator('accounts', 'enable', acme.accountId);
    expect(enabled, enabled.stderr).toMatchObject({ code: 0, stdout: `acme (${acme.accountId}): enabled\n` });
    await s.worker.maintain(); // the operator's process does not wake this one; its poll would, later
    expect((await waitTerminal(s, held.id, { key: acme.keys.viewer })).status).toBe('succeeded');
    expect((await s.request('GET', '/v1/deploys', asMember)).status).toBe(200);

    // the audit log records both, by the operator
    const log = await s.request('GET', '/v1/audit-logs?targetId=' + acme.accountId, { key: acme.keys.admin });
    expect(log.status, log.text).toBe(200);
    expect(log.body.items.map((e: { action: string }) => e.action)).toEqual(['workspace.enabled', 'workspace.disabled']);
  }, 120_000);
});
