/**
 * Deleting a workspace (DELETE /v1/workspaces/{id}): a real server with the real renderer, on SQLite + disk here and
 * on PostgreSQL + S3 in `npm run test:distributed`. Owner only, typed-name confirmation, personal workspaces kept;
 * a render in progress stops and a queued job is canceled; every row goes, and so do the blob store's objects
 * (outputs, managed PDFs, content blobs no other workspace holds); keys answer 401 at once; the entry is kept in
 * the owner's personal audit log.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobKey } from '../../src/domain/uploads.js';
import { createUser } from '../../src/domain/users.js';
import { deployDir } from '../helpers/deploy-dir.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { deployFiles } from '../helpers/uploads.js';
import { PROBE_DIR, createJob, sleep, waitStatus, waitTerminal } from '../render/support.js';
import { addMember, Browser, expectError, setupOwner } from './helpers.js';

let s: TestServer;
let owner: Browser;
let team: Record<'admin' | 'editor' | 'viewer', Browser>;
let stranger: Browser;
let doomed: string;
let personal: string;
let key: string;
const NAME = 'Doomed Docs';

const del = (b: Browser, id: string, json: unknown = { confirm: NAME }) => b.request('DELETE', `/v1/workspaces/${id}`, { json, workspace: null });

beforeAll(async () => {
  // one render slot: a job of another workspace rendering right after the delete proves the stopped render freed it
  s = await startTestServer({ PRESS_PASSWORD_HASH_COST: '12', PRESS_RENDER_CONCURRENCY: '1' });
  owner = await setupOwner(s);
  personal = (await owner.request('GET', '/v1/workspaces')).body.items.find((w: { personal: boolean }) => w.personal).id;
  const created = await owner.request('POST', '/v1/workspaces', { json: { name: NAME } });
  expect(created.status, created.text).toBe(201);
  doomed = created.body.workspace.id;
  owner.workspace = doomed;
  team = {
    admin: await addMember(owner, 'admin@doomed.test', 'admin'),
    editor: await addMember(owner, 'editor@doomed.test', 'editor'),
    viewer: await addMember(owner, 'viewer@doomed.test', 'viewer'),
  };
  stranger = new Browser(s, 'stranger@else.test', 'stranger password');
  await createUser(s.deps, { email: stranger.email, password: stranger.password });
  await stranger.signIn();
  const made = await owner.request('POST', '/v1/api-keys', { json: { name: 'doomed deploys', role: 'admin' } });
  expect(made.status, made.text).toBe(201);
  key = made.body.key;
}, 60_000);
afterAll(async () => s?.stop());

describe('DELETE /v1/workspaces/{id}', () => {
  it('admins, editors and viewers get 403; another user 404; an API key 403 session_required', async () => {
    for (const role of ['admin', 'editor', 'viewer'] as const) expectError(await del(team[role], doomed), 403, 'insufficient_permission');
    expectError(await del(stranger, doomed), 404, 'workspace_not_found');
    expectError(await s.request('DELETE', `/v1/workspaces/${doomed}`, { key, json: { confirm: NAME } }), 403, 'session_required');
    expect((await owner.request('GET', `/v1/workspaces/${doomed}`)).status).toBe(200);
  });

  it('a personal workspace cannot be deleted: 409 personal_workspace_not_deletable', async () => {
    expectError(await del(owner, personal, { confirm: 'owner@example.com' }), 409, 'personal_workspace_not_deletable');
    expect((await owner.request('GET', `/v1/workspaces/${personal}`)).status).toBe(200);
  });

  it('the typed name must match exactly: 400 invalid_input naming confirm', async () => {
    for (const json of [{ confirm: 'doomed docs' }, { confirm: `${NAME} ` }, { confirm: '' }, {}]) {
      const res = await del(owner, doomed, json);
      expectError(res, 400, 'invalid_input');
      expect(res.body.message).toMatch(/confirm/);
    }
    expect((await owner.request('GET', `/v1/workspaces/${doomed}`)).status).toBe(200);
  });

  it('the owner deletes it: renders stop, jobs cancel, rows and blobs go, keys answer 401, the entry stays in the personal log', async () => {
    // what the workspace holds: two deploys (one file only it has), a transient output, a managed PDF, webhook attempts
    const { deployId } = await deployDir(s, PROBE_DIR, { slug: 'probe' }, { key });
    const only = Buffer.from(`only in ${NAME} ${randomBytes(8).toString('hex')}`);
    const onlySha = createHash('sha256').update(only).digest('hex');
    await deployFiles(s, { createDeploy: { slug: 'own', name: 'own' } }, [{ path: 'index.html', content: only }], { key });
    // the same probe files in another workspace: those blobs must stay
    const other = (await deployDir(s, PROBE_DIR, { slug: 'probe' }, { key: s.adminKey })).deployId;
    const hooked = await s.request('PATCH', `/v1/deploys/${deployId}/settings`, { key, json: { webhook: { enabled: true, url: 'http://127.0.0.1:9/closed' } } });
    expect(hooked.status, hooked.text).toBe(200);
    const transient = await waitTerminal(s, (await createJob(s, { deployId }, { key })).id, { key });
    const managed = await waitTerminal(s, (await createJob(s, { deployId, outputMode: 'managed' }, { key })).id, { key });
    expect([transient.status, managed.status]).toEqual(['succeeded', 'succeeded']);
    await s.webhooks.runOnce();
    const outputs = [...(await s.storedKeys('outputs')), ...(await s.storedKeys('pdfs'))];
    expect(outputs.length).toBe(2); // the transient output and the managed PDF
    expect(existsSync(s.blobPath(blobKey(onlySha)))).toBe(true);

    // a render in progress (one slot) and a job queued behind it
    const slow = await createJob(s, { deployId, entry: 'slow.html', payload: { delayMs: 8000 } }, { key });
    await waitStatus(s, slow.id, 'rendering', { key });
    const queued = await createJob(s, { deployId }, { key });
    expect(queued.status).toBe('queued');
    const beforeCounts = await rowCounts();
    expect(beforeCounts.render_jobs).toBeGreaterThanOrEqual(4);
    expect(beforeCounts.webhook_deliveries).toBeGreaterThan(0);

    // the manual clock stands still; the blob store's mtimes are real time: the delete happens after the uploads
    s.clock.set(Math.max(s.clock.now(), Date.now() + 1000));
    const t0 = Date.now();
    const res = await del(owner, doomed);
    expect(res.status, res.text).toBe(200);
    expect(res.body.workspace).toMatchObject({ id: personal, personal: true, role: 'owner' });

    // keys stop at once; the workspace is gone for everyone
    expectError(await s.request('GET', '/v1/deploys', { key }), 401, 'invalid_api_key');
    expectError(await owner.request('GET', `/v1/workspaces/${doomed}`), 404, 'workspace_not_found');
    expectError(await team.editor.request('GET', '/v1/deploys', { workspace: doomed }), 404, 'workspace_not_found');
    expect((await team.viewer.request('GET', '/v1/workspaces')).body.items.map((w: { id: string }) => w.id)).not.toContain(doomed);

    // the stopped render gave its slot back: a job of the other workspace renders long before the slow page's 8 s
    const next = await createJob(s, { deployId: other });
    expect((await waitTerminal(s, next.id, { timeoutMs: 20_000 })).status).toBe('succeeded');
    expect(Date.now() - t0).toBeLessThan(7000);
    expect(await s.deps.db.renderJobs.getById(slow.id)).toBeNull();
    expect(await s.deps.db.renderJobs.getById(queued.id)).toBeNull();
    await sleep(200);
    expect((await s.storedKeys('outputs')).filter((k) => k.includes(slow.id))).toEqual([]); // the stopped render stored nothing

    // no row of it anywhere
    expect(Object.entries(await rowCounts()).filter(([, n]) => n > 0)).toEqual([]);

    // its objects left the blob store; a blob the other workspace holds stays
    const left = [...(await s.storedKeys('outputs')), ...(await s.storedKeys('pdfs'))];
    for (const k of outputs) expect(left).not.toContain(k);
    expect(existsSync(s.blobPath(blobKey(onlySha)))).toBe(false);
    const shared = (await s.sql<{ sha256: string }>('SELECT sha256 FROM account_blobs')).map((r) => r.sha256);
    expect(shared.length).toBeGreaterThan(0);
    for (const sha of shared) expect(existsSync(s.blobPath(blobKey(sha))), sha).toBe(true);
    const otherJob = await s.request('GET', `/v1/deploys/${other}`);
    expect(otherJob.status).toBe(200);

    // the audit entry lives on in the owner's personal workspace
    const log = await owner.request('GET', '/v1/audit-logs?action=workspace.deleted', { workspace: personal });
    expect(log.status, log.text).toBe(200);
    expect(log.body.items).toHaveLength(1);
    expect(log.body.items[0]).toMatchObject({
      action: 'workspace.deleted', actor: { type: 'user', id: owner.userId }, target: { type: 'workspace', id: doomed },
      details: { name: NAME, canceledRenderJobs: 2 }, requestId: res.headers.get('x-request-id'),
    });

    // the name is free again; deleting twice is 404
    expectError(await del(owner, doomed), 404, 'workspace_not_found');
    expect((await owner.request('POST', '/v1/workspaces', { json: { name: NAME } })).status).toBe(201);
  }, 90_000);
});

/** rows that belong to the doomed workspace, per table */
async function rowCounts(): Promise<Record<string, number>> {
  const byAccount = ['accounts:id', 'api_keys', 'deploys', 'deploy_versions', 'upload_sessions', 'account_blobs', 'usage_records', 'usage_totals', 'idempotency_keys',
    'render_jobs', 'pdfs', 'webhook_events', 'webhook_deliveries', 'memberships', 'invitations', 'audit_log'];
  const out: Record<string, number> = {};
  for (const spec of byAccount) {
    const [table, column = 'account_id'] = spec.split(':');
    const [row] = await s.sql<{ n: number | string }>(`SELECT count(*) AS n FROM ${table} WHERE ${column} = ?`, [doomed]);
    out[table] = Number(row.n);
  }
  return out;
}
