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

type Entry = { action: string; actor: { type: string; id: string | null; userId: string | null }; target: { type: string; id: string }; requestId: string | null; details: Record<string, unknown>; createdAt: number };
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
    expect((await s.request('GET', '/v1/audit-logs', { key: other.keys.viewer })).body.items).toEqual([]);
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
