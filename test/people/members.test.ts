import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/domain/users.js';
import { addMemberAsOperator } from '../../src/domain/workspaces.js';
import type { TestServer } from '../helpers/server.js';
import { addMember, Browser, expectError, setupOwner, startPeopleServer } from './helpers.js';

let s: TestServer;
let owner: Browser;
const team: Record<'admin' | 'editor' | 'viewer', Browser> = {} as never;
/** a user of another workspace only */
let stranger: Browser;
let acme: string;

beforeAll(async () => {
  s = await startPeopleServer();
  owner = await setupOwner(s);
  const created = await owner.request('POST', '/v1/workspaces', { json: { name: 'Acme' } });
  expect(created.status, created.text).toBe(201);
  acme = created.body.workspace.id;
  owner.workspace = acme;
  for (const role of ['admin', 'editor', 'viewer'] as const) team[role] = await addMember(owner, `${role}@acme.test`, role);
  stranger = new Browser(s, 'stranger@else.test', 'stranger password');
  const res = await stranger.request('POST', '/v1/setup', { json: { token: 'pcsetup_x', email: 'x@x.x', password: 'irrelevant pw' } });
  expectError(res, 403, 'setup_token_invalid');
  await createUser(s.deps, { email: stranger.email, password: stranger.password });
  await stranger.signIn();
  stranger.workspace = (await stranger.request('GET', '/v1/workspaces')).body.items[0].id;
});
afterAll(async () => s?.stop());

const ROLES = ['owner', 'admin', 'editor', 'viewer'] as const;
const as = (role: (typeof ROLES)[number]) => (role === 'owner' ? owner : team[role]);

describe('workspaces', () => {
  it('each user lists their workspaces with their role; a personal one each', async () => {
    const mine = (await team.editor.request('GET', '/v1/workspaces')).body.items.map((w: { name: string; role: string; personal: boolean }) => [w.name, w.role, w.personal]);
    expect(mine).toEqual([['Acme', 'editor', false], ['editor@acme.test', 'owner', true]]);
    const o = (await owner.request('GET', '/v1/workspaces?limit=1'));
    expect(o.body.items).toHaveLength(1);
    expect(o.body.nextCursor).toBeTruthy();
    const rest = await owner.request('GET', `/v1/workspaces?limit=10&cursor=${o.body.nextCursor}`);
    expect(rest.body.items.map((w: { name: string }) => w.name).sort()).toEqual(['default', 'owner@example.com']);
  });

  it('a workspace name is unique: 409 workspace_name_taken', async () => {
    expectError(await team.viewer.request('POST', '/v1/workspaces', { json: { name: 'Acme' } }), 409, 'workspace_name_taken');
  });

  it('GET /v1/workspaces/{id}: members see it with their role; anyone else gets 404', async () => {
    for (const role of ROLES) expect((await as(role).request('GET', `/v1/workspaces/${acme}`)).body.workspace.role).toBe(role);
    expectError(await stranger.request('GET', `/v1/workspaces/${acme}`), 404, 'workspace_not_found');
  });

  it('renaming needs admin', async () => {
    for (const role of ['editor', 'viewer'] as const) expectError(await as(role).request('PATCH', `/v1/workspaces/${acme}`, { json: { name: 'Nope' } }), 403, 'insufficient_permission');
    expectError(await stranger.request('PATCH', `/v1/workspaces/${acme}`, { json: { name: 'Nope' } }), 404, 'workspace_not_found');
    expect((await team.admin.request('PATCH', `/v1/workspaces/${acme}`, { json: { name: 'Acme Inc' } })).body.workspace.name).toBe('Acme Inc');
  });

  it('switching is per request: the same session reads two workspaces by Press-Workspace', async () => {
    await team.editor.request('POST', '/v1/deploys', { json: { slug: 'in-acme', name: 'x' } });
    const personal = (await team.editor.request('GET', '/v1/workspaces')).body.items.find((w: { personal: boolean }) => w.personal).id;
    expect((await team.editor.request('GET', '/v1/deploys')).body.items.map((d: { slug: string }) => d.slug)).toEqual(['in-acme']);
    expect((await team.editor.request('GET', '/v1/deploys', { workspace: personal })).body.items).toEqual([]);
  });
});

describe('members: roles', () => {
  it('every member lists the members; strangers get 404', async () => {
    for (const role of ROLES) {
      const res = await as(role).request('GET', '/v1/members');
      expect(res.status, role).toBe(200);
      expect(res.body.items.map((m: { email: string; role: string }) => `${m.email}:${m.role}`).sort()).toEqual(
        ['admin@acme.test:admin', 'editor@acme.test:editor', 'owner@example.com:owner', 'viewer@acme.test:viewer'],
      );
    }
    expectError(await stranger.request('GET', '/v1/members', { workspace: acme }), 404, 'workspace_not_found');
  });

  it('editors and viewers cannot change roles, remove members or invite', async () => {
    for (const role of ['editor', 'viewer'] as const) {
      const b = as(role);
      expectError(await b.request('PATCH', `/v1/members/${team.viewer.userId}`, { json: { role: 'editor' } }), 403, 'insufficient_permission');
      expectError(await b.request('DELETE', `/v1/members/${team.admin.userId}`), 403, 'insufficient_permission');
      expectError(await b.request('POST', '/v1/invitations', { json: { email: 'new@acme.test', role: 'viewer' } }), 403, 'insufficient_permission');
      expectError(await b.request('GET', '/v1/invitations'), 403, 'insufficient_permission');
    }
  });

  it('admins and the owner change roles; the owner\'s role changes only by a transfer', async () => {
    for (const role of ['owner', 'admin'] as const) {
      const res = await as(role).request('PATCH', `/v1/members/${team.viewer.userId}`, { json: { role: 'editor' } });
      expect(res.status, res.text).toBe(200);
      expect(res.body.member).toEqual({ userId: team.viewer.userId, role: 'editor' });
      await as(role).request('PATCH', `/v1/members/${team.viewer.userId}`, { json: { role: 'viewer' } });
    }
    expectError(await team.admin.request('PATCH', `/v1/members/${owner.userId}`, { json: { role: 'viewer' } }), 409, 'owner_required');
    expectError(await owner.request('PATCH', `/v1/members/${owner.userId}`, { json: { role: 'admin' } }), 409, 'owner_required');
    expectError(await owner.request('PATCH', `/v1/members/${owner.userId}`, { json: { role: 'owner' } }), 400, 'invalid_input');
  });

  it('another workspace\'s member is 404 member_not_found, by session or by API key', async () => {
    expectError(await owner.request('PATCH', `/v1/members/${stranger.userId}`, { json: { role: 'viewer' } }), 404, 'member_not_found');
    expectError(await owner.request('DELETE', `/v1/members/${stranger.userId}`), 404, 'member_not_found');
    const other = await s.newAccount('other-co');
    expectError(await s.request('PATCH', `/v1/members/${team.viewer.userId}`, { key: other.keys.admin, json: { role: 'editor' } }), 404, 'member_not_found');
    expectError(await s.request('DELETE', `/v1/members/${team.viewer.userId}`, { key: other.keys.admin }), 404, 'member_not_found');
    expect((await s.request('GET', '/v1/members', { key: other.keys.viewer })).body.items).toEqual([]);
  });

  it('the owner cannot be removed; a member may leave', async () => {
    expectError(await team.admin.request('DELETE', `/v1/members/${owner.userId}`), 409, 'owner_required');
    const leaver = await addMember(owner, 'leaver@acme.test', 'viewer');
    expect((await leaver.request('DELETE', `/v1/members/${leaver.userId}`)).status).toBe(204);
    expectError(await leaver.request('GET', '/v1/members'), 404, 'workspace_not_found');
  });
});

describe('API keys act with their creator\'s current membership', () => {
  it('only admins create keys, and no stronger than their own role', async () => {
    for (const role of ['editor', 'viewer'] as const) {
      expectError(await as(role).request('POST', '/v1/api-keys', { json: { name: 'k', role: 'viewer' } }), 403, 'insufficient_permission');
    }
    const res = await team.admin.request('POST', '/v1/api-keys', { json: { name: 'admin-made', role: 'admin' } });
    expect(res.status, res.text).toBe(201);
    expect(res.body.apiKey.userId).toBe(team.admin.userId);
  });

  it('a demoted creator\'s key acts with the lesser role at once; a removed creator\'s key stops working', async () => {
    const member = await addMember(owner, 'keymaker@acme.test', 'admin');
    const { key } = (await member.request('POST', '/v1/api-keys', { json: { name: 'deploy', role: 'editor' } })).body;
    expect((await s.request('POST', '/v1/deploys', { key, json: { slug: 'by-key', name: 'x' } })).status).toBe(201);

    await owner.request('PATCH', `/v1/members/${member.userId}`, { json: { role: 'viewer' } });
    expectError(await s.request('POST', '/v1/deploys', { key, json: { slug: 'by-key-2', name: 'x' } }), 403, 'insufficient_permission');
    expect((await s.request('GET', '/v1/deploys', { key })).status).toBe(200);

    await owner.request('PATCH', `/v1/members/${member.userId}`, { json: { role: 'admin' } });
    expect((await s.request('POST', '/v1/deploys', { key, json: { slug: 'by-key-3', name: 'x' } })).status).toBe(201);

    expect((await owner.request('DELETE', `/v1/members/${member.userId}`)).status).toBe(204);
    expectError(await s.request('GET', '/v1/deploys', { key }), 403, 'insufficient_permission');
  });

  it('keys made by the operator CLI belong to the owner', async () => {
    const { issueApiKey } = await import('../../src/domain/accounts.js');
    const { apiKey } = await issueApiKey(s.deps, acme, { name: 'cli', role: 'admin' });
    expect(apiKey.userId).toBe(owner.userId);
  });
});

describe('ownership', () => {
  it('only the owner transfers; the new owner must be a member; the old owner becomes an admin', async () => {
    expectError(await team.admin.request('POST', `/v1/workspaces/${acme}/transfer-ownership`, { json: { userId: team.admin.userId } }), 403, 'insufficient_permission');
    expectError(await owner.request('POST', `/v1/workspaces/${acme}/transfer-ownership`, { json: { userId: stranger.userId } }), 404, 'member_not_found');
    expectError(await stranger.request('POST', `/v1/workspaces/${acme}/transfer-ownership`, { json: { userId: stranger.userId } }), 404, 'workspace_not_found');
    const res = await owner.request('POST', `/v1/workspaces/${acme}/transfer-ownership`, { json: { userId: team.admin.userId } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.workspace.role).toBe('admin');
    const roles = Object.fromEntries((await owner.request('GET', '/v1/members')).body.items.map((m: { email: string; role: string }) => [m.email, m.role]));
    expect(roles['admin@acme.test']).toBe('owner');
    expect(roles['owner@example.com']).toBe('admin');
    // and back
    expect((await team.admin.request('POST', `/v1/workspaces/${acme}/transfer-ownership`, { json: { userId: owner.userId } })).status).toBe(200);
  });

  it('a personal workspace is not transferred', async () => {
    const personal = (await owner.request('GET', '/v1/workspaces?limit=100')).body.items.find((w: { personal: boolean }) => w.personal).id;
    const friend = await addMember(Object.assign(new Browser(s, owner.email, owner.password), { ...owner, workspace: personal }), 'friend@acme.test', 'admin');
    expectError(await owner.request('POST', `/v1/workspaces/${personal}/transfer-ownership`, { json: { userId: friend.userId } }), 400, 'invalid_input');
  });
});

describe('member limits per plan', () => {
  it('Free and Starter: owner only; Pro: 5 (pending invitations count); self-hosted unlimited: no limit', async () => {
    const boss = await createUser(s.deps, { email: 'boss@free.test', password: 'boss password 1' });
    const free = await s.newAccount('free-co', 'free');
    await addMemberAsOperator(s.deps, free.accountId, boss.user.id, 'owner');
    const b = new Browser(s, 'boss@free.test', 'boss password 1');
    await b.signIn();
    b.workspace = free.accountId;
    expectError(await b.request('POST', '/v1/invitations', { json: { email: 'one@free.test', role: 'viewer' } }), 400, 'member_limit_exceeded');

    const pro = await s.newAccount('pro-co', 'pro');
    await addMemberAsOperator(s.deps, pro.accountId, (await createUser(s.deps, { email: 'boss@pro.test', password: 'boss password 1' })).user.id, 'owner');
    const p = new Browser(s, 'boss@pro.test', 'boss password 1');
    await p.signIn();
    p.workspace = pro.accountId;
    for (let i = 0; i < 4; i++) expect((await p.request('POST', '/v1/invitations', { json: { email: `m${i}@pro.test`, role: 'viewer' } })).status).toBe(201);
    expectError(await p.request('POST', '/v1/invitations', { json: { email: 'm5@pro.test', role: 'viewer' } }), 400, 'member_limit_exceeded');
  });
});
