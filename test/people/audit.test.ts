import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.js';
import { addMember, Browser, expectError, setupOwner, startPeopleServer } from './helpers.js';

let s: TestServer;
let owner: Browser;
let viewer: Browser;

beforeAll(async () => {
  s = await startPeopleServer();
  owner = await setupOwner(s);
  viewer = await addMember(owner, 'viewer@example.com', 'viewer');
});
afterAll(async () => s?.stop());

type Person = { email: string | null; name: string | null };
type Entry = { action: string; actor: { type: string; id: string | null; userId: string | null } & Person; target: { type: string; id: string } & Person; requestId: string | null; details: Record<string, unknown>; createdAt: number };
const entries = async (b: Browser, query = '') => (await b.request('GET', `/v1/audit-logs${query}`)).body.items as Entry[];

describe('audit log', () => {
  it('records who changed members and invitations, with the request id; viewers read it', async () => {
    const editor = await addMember(owner, 'editor@example.com', 'editor');
    const change = await owner.request('PATCH', `/v1/members/${editor.userId}`, { json: { role: 'viewer' } });
    const inv = await s.request('POST', '/v1/invitations', { json: { email: 'later@example.com', role: 'viewer' } });
    await owner.request('DELETE', `/v1/invitations/${inv.body.invitation.id}`);

    const log = await entries(viewer);
    const changed = log.find((e) => e.action === 'member.role_changed')!;
    expect(changed).toMatchObject({
      actor: { type: 'user', id: owner.userId, userId: owner.userId }, target: { type: 'user', id: editor.userId },
      requestId: change.headers.get('x-request-id'), details: { from: 'editor', to: 'viewer' },
    });
    const byKey = log.find((e) => e.action === 'invitation.created' && e.target.id === inv.body.invitation.id)!;
    expect(byKey.actor.type).toBe('api_key');
    expect(byKey.actor.userId).toBe(owner.userId); // the bootstrap key became the owner's
    expect(log.find((e) => e.action === 'invitation.revoked')!.target.id).toBe(inv.body.invitation.id);
    expect(log.filter((e) => e.action === 'member.added').map((e) => e.target.id)).toEqual(expect.arrayContaining([viewer.userId, editor.userId]));
    expect(JSON.stringify(log)).not.toContain('pcinv_');
  });

  it('names the people in it, also after they left the workspace', async () => {
    const ada = await addMember(owner, 'ada@example.com', 'admin');
    const inv = await ada.request('POST', '/v1/invitations', { json: { email: 'by-ada@example.com', role: 'viewer' } });
    expect(inv.status).toBe(201);
    expect((await owner.request('DELETE', `/v1/members/${ada.userId}`)).status).toBe(204);

    const log = await entries(viewer, '?limit=100');
    const ada_ = { email: 'ada@example.com', name: 'ada' }; // a name defaults to the e-mail's local part
    // what she did: by the user, and the names are there though she is no longer a member
    expect(log.find((e) => e.action === 'invitation.created' && e.target.id === inv.body.invitation.id)).toMatchObject({
      actor: { type: 'user', id: ada.userId, userId: ada.userId, ...ada_ }, target: { type: 'invitation', email: null, name: null },
    });
    // what was done to her
    expect(log.find((e) => e.action === 'member.removed' && e.target.id === ada.userId)).toMatchObject({
      actor: { type: 'user', userId: owner.userId, email: 'owner@example.com', name: 'Olivia Owner' }, target: { type: 'user', id: ada.userId, ...ada_ },
    });
    // a key's entries name the key's creator; the operator CLI names nobody
    const byKey = log.find((e) => e.actor.type === 'api_key')!;
    expect(byKey.actor).toMatchObject({ userId: owner.userId, email: 'owner@example.com', name: 'Olivia Owner' });
    const other = await s.newAccount('names-operator');
    const made = (await s.request('GET', '/v1/audit-logs', { key: other.keys.viewer })).body.items as Entry[];
    expect(made[0].actor).toEqual({ type: 'operator', id: null, userId: null, email: null, name: null });
  });

  it('filters by actor, action, target and time, and pages newest first', async () => {
    const all = await entries(owner, '?limit=100');
    expect(all.map((e) => e.createdAt)).toEqual([...all.map((e) => e.createdAt)].sort((a, b) => b - a));
    expect((await entries(owner, '?action=invitation.revoked')).every((e) => e.action === 'invitation.revoked')).toBe(true);
    expect((await entries(owner, `?actorId=${viewer.userId}`)).map((e) => e.action)).toEqual(['member.added']);
    const target = all[0].target.id;
    expect((await entries(owner, `?targetId=${target}`)).every((e) => e.target.id === target)).toBe(true);
    expect(await entries(owner, `?from=${s.clock.now() + 1}`)).toEqual([]);
    expect((await entries(owner, `?to=${s.clock.now() + 1}&limit=100`)).length).toBe(all.length);
    const first = await owner.request('GET', '/v1/audit-logs?limit=2');
    const second = await owner.request('GET', `/v1/audit-logs?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items[0].id).toBe(all[2] && (all[2] as unknown as { id: string }).id);
    expectError(await owner.request('GET', '/v1/audit-logs?cursor=garbage'), 400, 'invalid_query_param');
  });

  it('another workspace sees none of it', async () => {
    const other = await s.newAccount('other-audit');
    // only its own history: the operator creating its three keys
    expect((await s.request('GET', '/v1/audit-logs', { key: other.keys.viewer })).body.items.map((e: Entry) => `${e.action}:${e.actor.type}`)).toEqual(
      ['api_key.created:operator', 'api_key.created:operator', 'api_key.created:operator'],
    );
    expect((await s.request('GET', `/v1/audit-logs?targetId=${viewer.userId}`, { key: other.keys.admin })).body.items).toEqual([]);
  });

  it('records workspace creation and renames in the new workspace', async () => {
    const ws = (await viewer.request('POST', '/v1/workspaces', { json: { name: 'Viewer Co' } })).body.workspace;
    await viewer.request('PATCH', `/v1/workspaces/${ws.id}`, { json: { name: 'Viewer Inc' } });
    const log = await entries(viewer, '') ;
    expect(log.some((e) => e.action === 'workspace.created')).toBe(false); // the default workspace's log
    const own = (await viewer.request('GET', '/v1/audit-logs', { workspace: ws.id })).body.items as Entry[];
    expect(own.map((e) => e.action)).toEqual(['workspace.renamed', 'workspace.created']);
  });
});

describe('audit log: keys, settings, secrets, deploys, aliases', () => {
  it('records key creation (by user, by the operator CLI), disabling and enabling', async () => {
    const made = await owner.request('POST', '/v1/api-keys', { json: { name: 'ci', role: 'editor' } });
    const keyId = made.body.apiKey.id;
    await owner.request('PATCH', `/v1/api-keys/${keyId}`, { json: { disabled: true } });
    await owner.request('PATCH', `/v1/api-keys/${keyId}`, { json: { disabled: false } });
    await owner.request('DELETE', `/v1/api-keys/${keyId}`);
    const { issueApiKey } = await import('../../src/domain/accounts.js');
    const cli = await issueApiKey(s.deps, owner.workspace!, { name: 'from-cli', role: 'viewer' });
    const log = await entries(owner, `?targetId=${keyId}`);
    expect(log.map((e) => e.action)).toEqual(['api_key.disabled', 'api_key.enabled', 'api_key.disabled', 'api_key.created']);
    expect(log.every((e) => e.actor.type === 'user' && e.actor.id === owner.userId)).toBe(true);
    expect(log[3].details).toEqual({ name: 'ci', role: 'editor' });
    const byCli = (await entries(owner, `?targetId=${cli.apiKey.id}`))[0];
    expect(byCli).toMatchObject({ action: 'api_key.created', actor: { type: 'operator', id: null }, requestId: null });
    expect(JSON.stringify(await entries(owner, '?limit=100'))).not.toContain(cli.key);
  });

  it('records workspace settings: rename and webhook secret rotation, never the secret', async () => {
    const res = await owner.request('PATCH', '/v1/account', { json: { name: 'Default Co', webhook: { signingSecretAction: 'rotate' } } });
    expect(res.status, res.text).toBe(200);
    const log = await entries(owner, `?targetId=${owner.workspace}`);
    expect(log.slice(0, 2).map((e) => e.action).sort()).toEqual(['workspace.renamed', 'workspace.webhook_secret_rotated']);
    expect(JSON.stringify(log)).not.toContain(res.body.account.webhook.signingSecret);
  });

  it('records deploy create, update, settings (names of env vars and secrets, never values), aliases and delete', async () => {
    const d = (await owner.request('POST', '/v1/deploys', { json: { slug: 'audited', name: 'A' } })).body.deploy;
    await owner.request('PATCH', `/v1/deploys/${d.id}`, { json: { name: 'B' } });
    await owner.request('PATCH', `/v1/deploys/${d.id}/settings`, { json: { env: { MODE: 'prod' }, secrets: { TOKEN: 'hunter2-very-secret' }, webhook: { url: 'http://127.0.0.1:9/hook', enabled: true } } });
    const { deployFiles } = await import('../helpers/uploads.js');
    const committed = await deployFiles(s, { deployId: d.id }, [{ path: 'index.html', content: '<p>x</p>' }]);
    const versionId = committed.deployVersion.id as string;
    expect((await owner.request('PUT', `/v1/deploys/${d.id}/aliases/production`, { json: { deployVersionId: versionId } })).status).toBe(200);
    expect((await owner.request('DELETE', `/v1/deploys/${d.id}/aliases/production`)).status).toBe(204);
    expect((await owner.request('DELETE', `/v1/deploys/${d.id}`)).status).toBe(204);

    const log = await entries(owner, `?targetId=${d.id}&limit=100`);
    expect(log.map((e) => e.action).reverse()).toEqual([
      'deploy.created', 'deploy.updated', 'deploy.webhook_updated', 'deploy.env_updated', 'deploy.secrets_updated',
      'deploy.version_created', 'alias.updated', 'alias.deleted', 'deploy.deleted',
    ]);
    expect(log.find((e) => e.action === 'deploy.secrets_updated')!.details).toEqual({ set: ['TOKEN'], removed: [] });
    expect(JSON.stringify(log)).not.toContain('hunter2');
    expect(log.find((e) => e.action === 'alias.updated')!.details).toEqual({ alias: 'production', deployVersionId: versionId });
  });

  it('a failed change writes no entry', async () => {
    expect((await owner.request('POST', '/v1/deploys', { json: { slug: 'audited-2', name: 'x' } })).status).toBe(201);
    const before = (await entries(owner, '?limit=100')).length;
    expectError(await owner.request('POST', '/v1/deploys', { json: { slug: 'audited-2', name: 'again' } }), 409, 'deploy_slug_conflict');
    expectError(await owner.request('DELETE', '/v1/deploys/dpl_00000000000000000000/aliases/preview'), 404, 'deploy_not_found');
    expect((await entries(owner, '?limit=100')).length).toBe(before);
  });
});

describe('audit log: every kind of change the issue lists', () => {
  it('keys, members, invitations, secrets, aliases (also those a commit sets), deploys, settings and workspaces each leave an entry', async () => {
    const { deployFiles } = await import('../helpers/uploads.js');
    const ws = (await owner.request('POST', '/v1/workspaces', { json: { name: 'Walk Co' } })).body.workspace.id as string;
    const w = { workspace: ws };
    const step = async (method: string, path: string, json?: unknown) => {
      const res = await owner.request(method, path, { json, ...w });
      expect(res.status, `${method} ${path}: ${res.text}`).toBeLessThan(300);
      return res.body;
    };
    // keys
    const key = (await step('POST', '/v1/api-keys', { name: 'walk', role: 'admin' })) as { apiKey: { id: string }; key: string };
    await step('PATCH', `/v1/api-keys/${key.apiKey.id}`, { disabled: true });
    await step('PATCH', `/v1/api-keys/${key.apiKey.id}`, { disabled: false });
    // members and invitations
    const inv = await step('POST', '/v1/invitations', { email: 'walker@example.com', role: 'viewer' });
    const walker = new Browser(s, 'walker@example.com', 'a long enough password');
    expect((await walker.request('POST', '/v1/invitations/accept', { json: { token: inv.url.split('#token=')[1], password: walker.password } })).status).toBe(200);
    await step('PATCH', `/v1/members/${walker.userId}`, { role: 'editor' });
    const revoked = await step('POST', '/v1/invitations', { email: 'nobody@example.com', role: 'viewer' });
    await step('DELETE', `/v1/invitations/${revoked.invitation.id}`);
    // deploys, settings, secrets, aliases — through the new key, as a CI job would
    const d = (await step('POST', '/v1/deploys', { slug: 'walk', name: 'Walk' })).deploy.id as string;
    await step('PATCH', `/v1/deploys/${d}`, { name: 'Walk 2' });
    await step('PATCH', `/v1/deploys/${d}/settings`, { env: { A: '1' }, secrets: { B: 'two' }, webhook: { url: 'http://127.0.0.1:9/h', enabled: true, signingSecretAction: 'enable' } });
    const committed = await deployFiles(s, { deployId: d }, [{ path: 'index.html', content: '<p>walk</p>' }], { key: key.key, aliases: ['preview', 'production'] });
    const versionId = committed.deployVersion.id as string;
    await step('PUT', `/v1/deploys/${d}/aliases/staging`, { deployVersionId: versionId });
    await step('DELETE', `/v1/deploys/${d}/aliases/staging`);
    // workspace settings
    await step('PATCH', '/v1/account', { name: 'Walk Inc', webhook: { signingSecretAction: 'rotate' } });
    await step('PATCH', `/v1/workspaces/${ws}`, { name: 'Walk Ltd' });
    await step('POST', `/v1/workspaces/${ws}/transfer-ownership`, { userId: walker.userId });
    // now an admin: the rest as the old owner still works
    await step('DELETE', `/v1/deploys/${d}`);
    await step('DELETE', `/v1/api-keys/${key.apiKey.id}?permanent=true`);
    await step('DELETE', `/v1/members/${owner.userId}`); // the old owner, an admin now, leaves

    const log = (await walker.request('GET', '/v1/audit-logs?limit=100', { workspace: ws })).body.items as Entry[];
    const actions = new Set(log.map((e) => e.action));
    for (const action of [
      'workspace.created', 'api_key.created', 'api_key.disabled', 'api_key.enabled', 'api_key.deleted',
      'invitation.created', 'member.added', 'member.role_changed', 'invitation.revoked', 'member.removed',
      'deploy.created', 'deploy.updated', 'deploy.env_updated', 'deploy.secrets_updated', 'deploy.webhook_updated',
      'deploy.version_created', 'alias.updated', 'alias.deleted', 'deploy.deleted',
      'workspace.renamed', 'workspace.webhook_secret_rotated', 'workspace.ownership_transferred',
    ]) expect(actions, action).toContain(action);
    // the aliases the commit set, by the key that committed
    const byCommit = log.filter((e) => e.action === 'alias.updated' && e.details.by === 'commit');
    expect(byCommit.map((e) => e.details.alias).sort()).toEqual(['preview', 'production']);
    expect(byCommit.every((e) => e.actor.type === 'api_key' && e.actor.id === key.apiKey.id && e.details.deployVersionId === versionId)).toBe(true);
    expect(log.find((e) => e.action === 'deploy.version_created')!.details).toMatchObject({ deployVersionId: versionId, aliases: ['preview', 'production'] });
    // every entry names its actor; the key's entries name their requests
    expect(log.filter((e) => !e.actor.id)).toEqual([]);
    expect(log.filter((e) => e.actor.type === 'api_key' && !e.requestId)).toEqual([]);
  });
});
