import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/model/records.js';
import type { TestServer } from '../helpers/server.js';
import { deployFiles } from '../helpers/uploads.js';
import { createDeploy, expectError, startApiServer, unknownId } from './helpers.js';

let s: TestServer;
let acct: { accountId: string; keys: Record<Role, string> };
let other: { accountId: string; keys: Record<Role, string> };
beforeAll(async () => {
  s = await startApiServer();
  acct = await s.newAccount('acme');
  other = await s.newAccount('other');
});
afterAll(async () => s.stop());

describe('deploys', () => {
  it('POST → 201 {deploy:{id, accountId, slug, name, createdAt}}', async () => {
    const res = await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { slug: 'invoices', name: 'Invoices' } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ deploy: { id: expect.stringMatching(/^dpl_[0-9A-Za-z]{20,}$/), accountId: acct.accountId, slug: 'invoices', name: 'Invoices', createdAt: s.clock.now() } });
  });

  it('POST with a used slug → 409 deploy_slug_conflict; bad slugs → 400', async () => {
    await createDeploy(s, 'taken', { key: acct.keys.editor });
    expectError(await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { slug: 'taken', name: 'again' } }), 409, 'deploy_slug_conflict');
    for (const slug of ['Upper', '-lead', 'trail-', 'has space', 'a'.repeat(64), '', 'ünï', 'under_score']) {
      expectError(await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { slug, name: 'x' } }), 400, 'invalid_input');
    }
    expect((await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { slug: 'a'.repeat(63), name: 'x' } })).status).toBe(201);
    expect((await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { slug: '7', name: 'x' } })).status).toBe(201);
    // the same slug in another account is fine
    expect((await s.request('POST', '/v1/deploys', { key: other.keys.editor, json: { slug: 'taken', name: 'theirs' } })).status).toBe(201);
    expectError(await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { slug: 'ok-slug', name: '' } }), 400, 'invalid_input');
  });

  it('GET one: latestVersionId null before a commit, aliases []', async () => {
    const id = await createDeploy(s, 'empty', { key: acct.keys.editor, name: 'Empty' });
    const res = await s.request('GET', `/v1/deploys/${id}`, { key: acct.keys.viewer });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ deploy: { id, accountId: acct.accountId, slug: 'empty', name: 'Empty', createdAt: expect.any(Number), latestVersionId: null, aliases: [] } });
    expectError(await s.request('GET', `/v1/deploys/${unknownId('dpl')}`, { key: acct.keys.viewer }), 404, 'deploy_not_found');
  });

  it('GET list → {items:[{id, slug, name, createdAt}], nextCursor}', async () => {
    const res = await s.request('GET', '/v1/deploys', { key: acct.keys.viewer });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['items', 'nextCursor']);
    expect(res.body.nextCursor).toBeNull();
    for (const d of res.body.items) expect(d).toEqual(expect.objectContaining({ id: expect.any(String), slug: expect.any(String), name: expect.any(String), createdAt: expect.any(Number) }));
    expect(res.body.items.map((d: { slug: string }) => d.slug)).toContain('invoices');
  });

  it('PATCH renames, changes the slug, refuses a taken slug (409) or a bad one (400)', async () => {
    const id = await createDeploy(s, 'patch-me', { key: acct.keys.editor });
    const renamed = await s.request('PATCH', `/v1/deploys/${id}`, { key: acct.keys.editor, json: { name: 'Renamed' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toEqual({ deploy: { id, accountId: acct.accountId, slug: 'patch-me', name: 'Renamed', createdAt: expect.any(Number) } });
    const reslugged = await s.request('PATCH', `/v1/deploys/${id}`, { key: acct.keys.editor, json: { slug: 'patched' } });
    expect(reslugged.body.deploy).toMatchObject({ slug: 'patched', name: 'Renamed' });
    expect((await s.request('GET', `/v1/deploys/${id}`, { key: acct.keys.viewer })).body.deploy.slug).toBe('patched');
    // the old slug is free again, the new one is taken
    await createDeploy(s, 'patch-me', { key: acct.keys.editor });
    const conflict = await s.request('PATCH', `/v1/deploys/${id}`, { key: acct.keys.editor, json: { slug: 'patch-me', name: 'ignored' } });
    expectError(conflict, 409, 'deploy_slug_conflict');
    expect(conflict.body.message).toContain('patch-me');
    expect((await s.request('GET', `/v1/deploys/${id}`, { key: acct.keys.viewer })).body.deploy).toMatchObject({ slug: 'patched', name: 'Renamed' });
    // patching to its own slug is not a conflict
    expect((await s.request('PATCH', `/v1/deploys/${id}`, { key: acct.keys.editor, json: { slug: 'patched' } })).status).toBe(200);
    expectError(await s.request('PATCH', `/v1/deploys/${id}`, { key: acct.keys.editor, json: { slug: 'Not Valid' } }), 400, 'invalid_input');
    expectError(await s.request('PATCH', `/v1/deploys/${unknownId('dpl')}`, { key: acct.keys.editor, json: { name: 'x' } }), 404, 'deploy_not_found');
  });

  it('DELETE → 204, then 404 deploy_not_found everywhere; the slug is reusable', async () => {
    const id = await createDeploy(s, 'doomed', { key: acct.keys.editor });
    const del = await s.request('DELETE', `/v1/deploys/${id}`, { key: acct.keys.editor });
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expectError(await s.request('GET', `/v1/deploys/${id}`, { key: acct.keys.editor }), 404, 'deploy_not_found');
    expectError(await s.request('PATCH', `/v1/deploys/${id}`, { key: acct.keys.editor, json: { name: 'x' } }), 404, 'deploy_not_found');
    expectError(await s.request('DELETE', `/v1/deploys/${id}`, { key: acct.keys.editor }), 404, 'deploy_not_found');
    expectError(await s.request('GET', `/v1/deploys/${id}/versions`, { key: acct.keys.editor }), 404, 'deploy_not_found');
    expectError(await s.request('GET', `/v1/deploys/${id}/settings`, { key: acct.keys.editor }), 404, 'deploy_not_found');
    const list = await s.request('GET', '/v1/deploys?limit=100', { key: acct.keys.editor });
    expect(list.body.items.map((d: { id: string }) => d.id)).not.toContain(id);
    const again = await createDeploy(s, 'doomed', { key: acct.keys.editor });
    expect(again).not.toBe(id);
  });
});

describe('versions', () => {
  let deployId: string;
  let v1: { id: string };
  let v2: { id: string };
  const files = [
    { path: 'index.html', content: '<h1>1</h1>' },
    { path: 'css/a.css', content: 'a{}', mime: 'text/css' },
    { path: 'css/b.css', content: 'b{}', mime: 'text/css' },
    { path: 'img/x.svg', content: '<svg/>', mime: 'image/svg+xml' },
    { path: 'z.txt', content: 'zzz', mime: 'text/plain' },
  ];

  beforeAll(async () => {
    const first = await deployFiles(s, { createDeploy: { slug: 'versioned', name: 'V' } }, files, { key: acct.keys.editor });
    deployId = first.deployId;
    v1 = first.deployVersion;
    s.clock.advance(1000);
    v2 = (await deployFiles(s, { deployId }, [{ path: 'index.html', content: '<h1>2</h1>' }], { key: acct.keys.editor })).deployVersion;
  });

  it('GET deploy shows the newest version as latestVersionId', async () => {
    expect((await s.request('GET', `/v1/deploys/${deployId}`, { key: acct.keys.viewer })).body.deploy.latestVersionId).toBe(v2.id);
  });

  it('list newest first with pagination; get one', async () => {
    const page1 = await s.request('GET', `/v1/deploys/${deployId}/versions?limit=1`, { key: acct.keys.viewer });
    expect(page1.status).toBe(200);
    expect(page1.body.items.map((v: { id: string }) => v.id)).toEqual([v2.id]);
    const page2 = await s.request('GET', `/v1/deploys/${deployId}/versions?limit=1&cursor=${page1.body.nextCursor}`, { key: acct.keys.viewer });
    expect(page2.body).toEqual({ items: [expect.objectContaining({ id: v1.id })], nextCursor: null });
    const one = await s.request('GET', `/v1/deploys/${deployId}/versions/${v1.id}`, { key: acct.keys.viewer });
    expect(one.status).toBe(200);
    expect(one.body).toEqual({
      deployVersion: { id: v1.id, deployId, fileCount: 5, bytes: files.reduce((n, f) => n + Buffer.byteLength(f.content), 0), uploadSessionId: expect.stringMatching(/^us_/), createdAt: expect.any(Number) },
    });
  });

  it('files: path order, paginated', async () => {
    const seen: { path: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { status: number; body: { items: { path: string }[]; nextCursor: string | null } } = await s.request(
        'GET', `/v1/deploys/${deployId}/versions/${v1.id}/files?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key: acct.keys.viewer },
      );
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items);
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen.map((f) => f.path)).toEqual(['css/a.css', 'css/b.css', 'img/x.svg', 'index.html', 'z.txt']);
    expect(seen[0]).toEqual({ path: 'css/a.css', sha256: expect.stringMatching(/^[0-9a-f]{64}$/), size: 3, mime: 'text/css' });
    const all = await s.request('GET', `/v1/deploys/${deployId}/versions/${v1.id}/files`, { key: acct.keys.viewer });
    expect(all.body.items).toHaveLength(5);
    expect(all.body.nextCursor).toBeNull();
    expectError(await s.request('GET', `/v1/deploys/${deployId}/versions/${v1.id}/files?cursor=bogus`, { key: acct.keys.viewer }), 400, 'invalid_query_param');
    expectError(await s.request('GET', `/v1/deploys/${deployId}/versions/${v1.id}/files?limit=101`, { key: acct.keys.viewer }), 400, 'invalid_query_param');
  });

  it('unknown version → 404 deploy_version_not_found; a version of another deploy is not found under this one', async () => {
    const missing = unknownId('dv');
    expectError(await s.request('GET', `/v1/deploys/${deployId}/versions/${missing}`, { key: acct.keys.viewer }), 404, 'deploy_version_not_found');
    expectError(await s.request('GET', `/v1/deploys/${deployId}/versions/${missing}/files`, { key: acct.keys.viewer }), 404, 'deploy_version_not_found');
    const otherDeploy = await createDeploy(s, 'no-versions', { key: acct.keys.editor });
    expectError(await s.request('GET', `/v1/deploys/${otherDeploy}/versions/${v1.id}`, { key: acct.keys.viewer }), 404, 'deploy_version_not_found');
    expect((await s.request('GET', `/v1/deploys/${otherDeploy}/versions`, { key: acct.keys.viewer })).body).toEqual({ items: [], nextCursor: null });
  });
});

describe('tenancy', () => {
  let theirs: { deployId: string; versionId: string; keyId: string };
  beforeAll(async () => {
    const d = await deployFiles(s, { createDeploy: { slug: 'secret-project', name: 'Theirs' } }, [{ path: 'index.html', content: 'theirs' }], { key: other.keys.admin, aliases: ['preview'] });
    const keys = await s.request('GET', '/v1/api-keys', { key: other.keys.admin });
    theirs = { deployId: d.deployId, versionId: d.deployVersion.id, keyId: keys.body.items[0].id };
  });

  it('another account\'s deploy answers 404 (never 403) for GET, PATCH, DELETE and sub-resources, even for admins', async () => {
    const k = acct.keys.admin;
    const { deployId, versionId } = theirs;
    const cases: [string, string, unknown?][] = [
      ['GET', `/v1/deploys/${deployId}`],
      ['PATCH', `/v1/deploys/${deployId}`, { name: 'mine now' }],
      ['DELETE', `/v1/deploys/${deployId}`],
      ['GET', `/v1/deploys/${deployId}/versions`],
      ['GET', `/v1/deploys/${deployId}/versions/${versionId}`],
      ['GET', `/v1/deploys/${deployId}/versions/${versionId}/files`],
      ['GET', `/v1/deploys/${deployId}/aliases`],
      ['PUT', `/v1/deploys/${deployId}/aliases/preview`, { deployVersionId: versionId }],
      ['DELETE', `/v1/deploys/${deployId}/aliases/preview`],
      ['GET', `/v1/deploys/${deployId}/settings`],
      ['PATCH', `/v1/deploys/${deployId}/settings`, { env: { X: 'y' } }],
    ];
    for (const [method, path, json] of cases) expectError(await s.request(method, path, { key: k, json }), 404, 'deploy_not_found');
    // nothing changed for the owner
    const owner = await s.request('GET', `/v1/deploys/${deployId}`, { key: other.keys.viewer });
    expect(owner.body.deploy).toMatchObject({ name: 'Theirs', latestVersionId: versionId, aliases: [expect.objectContaining({ name: 'preview' })] });
    expect((await s.request('GET', `/v1/deploys/${deployId}/settings`, { key: other.keys.viewer })).body.settings.env).toEqual({});
  });

  it('another account\'s version cannot be aliased from my deploy; their key id is 404', async () => {
    const mine = await createDeploy(s, 'mine', { key: acct.keys.admin });
    expectError(await s.request('GET', `/v1/deploys/${mine}/versions/${theirs.versionId}`, { key: acct.keys.admin }), 404, 'deploy_version_not_found');
    expectError(await s.request('PUT', `/v1/deploys/${mine}/aliases/preview`, { key: acct.keys.admin, json: { deployVersionId: theirs.versionId } }), 404, 'deploy_version_not_found');
    expectError(await s.request('DELETE', `/v1/api-keys/${theirs.keyId}`, { key: acct.keys.admin }), 404, 'api_key_not_found');
  });

  it('lists never show another account\'s deploys', async () => {
    const mine = (await s.request('GET', '/v1/deploys?limit=100', { key: acct.keys.viewer })).body.items as { id: string; accountId: string }[];
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((d) => d.accountId === acct.accountId)).toBe(true);
    expect(mine.map((d) => d.id)).not.toContain(theirs.deployId);
    const bootstrap = (await s.request('GET', '/v1/deploys?limit=100')).body.items;
    expect(bootstrap).toEqual([]);
  });
});
