import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/model/records.js';
import type { TestServer } from '../helpers/server.js';
import { databaseBytes, expectError, startApiServer } from './helpers.js';

let s: TestServer;
let acct: { accountId: string; keys: Record<Role, string> };
let other: { accountId: string; keys: Record<Role, string> };
beforeAll(async () => {
  s = await startApiServer();
  acct = await s.newAccount('acme');
  other = await s.newAccount('other');
});
afterAll(async () => s.stop());

describe('authentication', () => {
  it('no Authorization header → 401 missing_authorization', async () => {
    expectError(await s.request('GET', '/v1/deploys', { key: null }), 401, 'missing_authorization');
    expectError(await s.request('POST', '/v1/deploys', { key: null, json: { slug: 'x', name: 'x' } }), 401, 'missing_authorization');
  });

  it('a non-Bearer scheme → 401 missing_authorization', async () => {
    expectError(await s.request('GET', '/v1/deploys', { headers: { authorization: 'Basic eHh4Onl5eQ==' } }), 401, 'missing_authorization');
    expectError(await s.request('GET', '/v1/deploys', { headers: { authorization: s.adminKey } }), 401, 'missing_authorization');
  });

  it('a Bearer token without pcak_, or malformed → 401 invalid_api_key', async () => {
    expectError(await s.request('GET', '/v1/deploys', { key: 'foo' }), 401, 'invalid_api_key');
    expectError(await s.request('GET', '/v1/deploys', { key: 'pcak_short' }), 401, 'invalid_api_key');
    expectError(await s.request('GET', '/v1/deploys', { key: `${s.adminKey}!` }), 401, 'invalid_api_key');
  });

  it('an unknown well-formed pcak_ key → 401 invalid_api_key', async () => {
    expectError(await s.request('GET', '/v1/deploys', { key: `pcak_${'A'.repeat(43)}` }), 401, 'invalid_api_key');
  });

  it('public routes need no key: /healthz, /readyz, /v1/openapi.json, /docs', async () => {
    for (const p of ['/healthz', '/readyz', '/v1/openapi.json', '/docs']) expect((await s.request('GET', p, { key: null })).status, p).toBe(200);
  });

  it('a disabled key → 403 api_key_disabled; other keys keep working', async () => {
    const created = await s.request('POST', '/v1/api-keys', { key: acct.keys.admin, json: { name: 'temp', role: 'editor' } });
    expect(created.status).toBe(201);
    const { key, apiKey } = created.body;
    expect((await s.request('GET', '/v1/deploys', { key })).status).toBe(200);
    const del = await s.request('DELETE', `/v1/api-keys/${apiKey.id}`, { key: acct.keys.admin });
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expectError(await s.request('GET', '/v1/deploys', { key }), 403, 'api_key_disabled');
    expectError(await s.request('POST', '/v1/deploys', { key, json: { slug: 'x', name: 'x' } }), 403, 'api_key_disabled');
    // disabling twice is harmless; the key is listed with disabledAt
    expect((await s.request('DELETE', `/v1/api-keys/${apiKey.id}`, { key: acct.keys.admin })).status).toBe(204);
    const list = await s.request('GET', '/v1/api-keys?limit=100', { key: acct.keys.admin });
    expect(list.body.items.find((k: { id: string }) => k.id === apiKey.id).disabledAt).toEqual(expect.any(Number));
    expect((await s.request('GET', '/v1/deploys', { key: acct.keys.admin })).status).toBe(200);
  });

  it('DELETE ?permanent=true deletes a key for good: 401 at once, gone from the list, admin only, other accounts 404', async () => {
    const created = await s.request('POST', '/v1/api-keys', { key: acct.keys.admin, json: { name: 'doomed', role: 'editor' }, headers: { 'idempotency-key': 'doomed-1' } });
    const { key, apiKey } = created.body;
    expect((await s.request('GET', '/v1/deploys', { key })).status).toBe(200);
    for (const role of ['editor', 'viewer'] as const) {
      expectError(await s.request('DELETE', `/v1/api-keys/${apiKey.id}?permanent=true`, { key: acct.keys[role] }), 403, 'insufficient_permission');
    }
    for (const role of ['admin', 'editor'] as const) {
      expectError(await s.request('DELETE', `/v1/api-keys/${apiKey.id}?permanent=true`, { key: other.keys[role] }), role === 'admin' ? 404 : 403,
        role === 'admin' ? 'api_key_not_found' : 'insufficient_permission');
    }
    expect((await s.request('GET', '/v1/deploys', { key })).status).toBe(200);
    const del = await s.request('DELETE', `/v1/api-keys/${apiKey.id}?permanent=true`, { key: acct.keys.admin });
    expect(del.status, del.text).toBe(204);
    expectError(await s.request('GET', '/v1/deploys', { key }), 401, 'invalid_api_key');
    const list = await s.request('GET', '/v1/api-keys?limit=100', { key: acct.keys.admin });
    expect(list.body.items.map((k: { id: string }) => k.id)).not.toContain(apiKey.id);
    expectError(await s.request('DELETE', `/v1/api-keys/${apiKey.id}?permanent=true`, { key: acct.keys.admin }), 404, 'api_key_not_found');
    expectError(await s.request('PATCH', `/v1/api-keys/${apiKey.id}`, { key: acct.keys.admin, json: { disabled: false } }), 404, 'api_key_not_found');
    // its stored idempotent answers go with it
    expect(await s.sql('SELECT key FROM idempotency_keys WHERE api_key_id = ?', [apiKey.id])).toEqual([]);
    const audit = await s.request('GET', `/v1/audit-logs?targetId=${apiKey.id}`, { key: acct.keys.viewer });
    expect(audit.body.items.map((e: { action: string }) => e.action)).toEqual(['api_key.deleted', 'api_key.created']);
  });
});

describe('roles', () => {
  it('viewer: can GET, cannot create or change anything (403 insufficient_permission)', async () => {
    const k = acct.keys.viewer;
    for (const p of ['/v1/account', '/v1/deploys', '/v1/usage']) expect((await s.request('GET', p, { key: k })).status, p).toBe(200);
    expectError(await s.request('POST', '/v1/deploys', { key: k, json: { slug: 'v', name: 'v' } }), 403, 'insufficient_permission');
    const deploy = await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { slug: 'roles', name: 'Roles' } });
    const id = deploy.body.deploy.id;
    expect((await s.request('GET', `/v1/deploys/${id}`, { key: k })).status).toBe(200);
    expect((await s.request('GET', `/v1/deploys/${id}/settings`, { key: k })).status).toBe(200);
    expectError(await s.request('PATCH', `/v1/deploys/${id}`, { key: k, json: { name: 'n' } }), 403, 'insufficient_permission');
    expectError(await s.request('DELETE', `/v1/deploys/${id}`, { key: k }), 403, 'insufficient_permission');
    expectError(await s.request('PATCH', `/v1/deploys/${id}/settings`, { key: k, json: { env: { A: 'b' } } }), 403, 'insufficient_permission');
    expectError(await s.request('GET', '/v1/api-keys', { key: k }), 403, 'insufficient_permission');
    expectError(await s.request('PATCH', '/v1/account', { key: k, json: { name: 'x' } }), 403, 'insufficient_permission');
  });

  it('editor: deploys and settings yes; API keys and account settings no', async () => {
    const k = acct.keys.editor;
    const created = await s.request('POST', '/v1/deploys', { key: k, json: { slug: 'editor-made', name: 'E' } });
    expect(created.status).toBe(201);
    const id = created.body.deploy.id;
    expect((await s.request('PATCH', `/v1/deploys/${id}/settings`, { key: k, json: { env: { A: 'b' } } })).status).toBe(200);
    expectError(await s.request('POST', '/v1/api-keys', { key: k, json: { name: 'x', role: 'viewer' } }), 403, 'insufficient_permission');
    expectError(await s.request('GET', '/v1/api-keys', { key: k }), 403, 'insufficient_permission');
    const someKey = (await s.request('GET', '/v1/api-keys', { key: acct.keys.admin })).body.items[0].id;
    expectError(await s.request('DELETE', `/v1/api-keys/${someKey}`, { key: k }), 403, 'insufficient_permission');
    expectError(await s.request('PATCH', '/v1/account', { key: k, json: { webhook: { signingSecretAction: 'rotate' } } }), 403, 'insufficient_permission');
    expect((await s.request('DELETE', `/v1/deploys/${id}`, { key: k })).status).toBe(204);
  });

  it('admin: everything', async () => {
    const k = acct.keys.admin;
    expect((await s.request('POST', '/v1/deploys', { key: k, json: { slug: 'admin-made', name: 'A' } })).status).toBe(201);
    expect((await s.request('GET', '/v1/api-keys', { key: k })).status).toBe(200);
    expect((await s.request('POST', '/v1/api-keys', { key: k, json: { name: 'ci', role: 'viewer' } })).status).toBe(201);
    expect((await s.request('PATCH', '/v1/account', { key: k, json: { name: 'acme-renamed' } })).status).toBe(200);
    expect((await s.request('PATCH', '/v1/account', { key: k, json: { name: 'acme' } })).status).toBe(200);
  });
});

describe('API keys', () => {
  it('POST /v1/api-keys → 201 {apiKey, key}; the key works with its role; GET lists without secret or hash', async () => {
    const res = await s.request('POST', '/v1/api-keys', { key: acct.keys.admin, json: { name: 'deployer', role: 'editor' } });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['apiKey', 'key']);
    const { apiKey, key } = res.body;
    expect(apiKey).toEqual({
      id: expect.stringMatching(/^key_/), name: 'deployer', role: 'editor', prefix: key.slice(0, apiKey.prefix.length),
      userId: null, createdAt: s.clock.now(), lastUsedAt: null, disabledAt: null,
    });
    expect(key).toMatch(/^pcak_[A-Za-z0-9_-]{20,}$/);
    expect(apiKey.prefix.length).toBeLessThan(key.length / 2);

    expect((await s.request('POST', '/v1/deploys', { key, json: { slug: 'by-new-key', name: 'x' } })).status).toBe(201);
    expectError(await s.request('POST', '/v1/api-keys', { key, json: { name: 'x', role: 'admin' } }), 403, 'insufficient_permission');

    const list = await s.request('GET', '/v1/api-keys?limit=100', { key: acct.keys.admin });
    expect(list.status).toBe(200);
    const listed = list.body.items.find((k: { id: string }) => k.id === apiKey.id);
    expect(listed).toEqual({ ...apiKey, lastUsedAt: s.clock.now() });
    expect(list.text).not.toContain(key);
    expect(list.text).not.toMatch(/hash/i);
    expect(list.body.items.every((k: Record<string, unknown>) => Object.keys(k).sort().join() === 'createdAt,disabledAt,id,lastUsedAt,name,prefix,role,userId')).toBe(true);
  });

  it('keys are stored hashed: the plaintext is nowhere in the api_keys table nor in the database files', async () => {
    const res = await s.request('POST', '/v1/api-keys', { key: acct.keys.admin, json: { name: 'stored', role: 'viewer' } });
    const { key, apiKey } = res.body as { key: string; apiKey: { id: string } };
    const rows = await s.sql('SELECT * FROM api_keys');
    expect(rows.some((r) => r.id === apiKey.id)).toBe(true);
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(key);
    expect(dump).not.toContain(key.slice(5));
    expect((await databaseBytes(s)).includes(key)).toBe(false);
    expect((await databaseBytes(s)).includes(key.slice(5))).toBe(false);
  });

  it('bad bodies and unknown ids', async () => {
    expectError(await s.request('POST', '/v1/api-keys', { key: acct.keys.admin, json: { name: '', role: 'viewer' } }), 400, 'invalid_input');
    expectError(await s.request('POST', '/v1/api-keys', { key: acct.keys.admin, json: { name: 'x' } }), 400, 'invalid_input');
    const otherKeyId = (await s.request('GET', '/v1/api-keys', { key: other.keys.admin })).body.items[0].id;
    expectError(await s.request('DELETE', `/v1/api-keys/${otherKeyId}`, { key: acct.keys.admin }), 404, 'api_key_not_found');
    // still works for its owner
    expect((await s.request('GET', '/v1/account', { key: other.keys.admin })).status).toBe(200);
  });

  it('lists never show another account\'s keys', async () => {
    const mine = (await s.request('GET', '/v1/api-keys?limit=100', { key: acct.keys.admin })).body.items.map((k: { id: string }) => k.id);
    const theirs = (await s.request('GET', '/v1/api-keys?limit=100', { key: other.keys.admin })).body.items.map((k: { id: string }) => k.id);
    expect(theirs).toHaveLength(3);
    expect(mine.filter((id: string) => theirs.includes(id))).toEqual([]);
  });
});

describe('account', () => {
  it('GET /v1/account shows a masked webhook secret only', async () => {
    const res = await s.request('GET', '/v1/account', { key: acct.keys.viewer });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      account: {
        id: acct.accountId, name: 'acme', createdAt: expect.any(Number), plan: { key: 'unlimited', name: expect.any(String) },
        webhook: { signingSecretPreview: expect.stringMatching(/^whsec_\*{6}….{4}$/) },
      },
    });
  });

  it('PATCH rotate (admin) shows the new secret once; GET masks it afterwards', async () => {
    const before = (await s.request('GET', '/v1/account', { key: acct.keys.admin })).body.account.webhook.signingSecretPreview;
    const res = await s.request('PATCH', '/v1/account', { key: acct.keys.admin, json: { webhook: { signingSecretAction: 'rotate' } } });
    expect(res.status).toBe(200);
    const { signingSecret, signingSecretPreview } = res.body.account.webhook;
    expect(signingSecret).toMatch(/^whsec_[A-Za-z0-9_-]{32,}$/);
    expect(signingSecretPreview).toBe(`whsec_******…${signingSecret.slice(-4)}`);
    expect(signingSecretPreview).not.toBe(before);
    const after = await s.request('GET', '/v1/account', { key: acct.keys.admin });
    expect(after.body.account.webhook).toEqual({ signingSecretPreview });
    expect(after.text).not.toContain(signingSecret);
    // stored encrypted
    expect((await databaseBytes(s)).includes(signingSecret)).toBe(false);
  });

  it('PATCH with an unknown action or a taken name → 400', async () => {
    expectError(await s.request('PATCH', '/v1/account', { key: acct.keys.admin, json: { webhook: { signingSecretAction: 'reveal' } } }), 400, 'invalid_input');
    expectError(await s.request('PATCH', '/v1/account', { key: acct.keys.admin, json: { name: 'other' } }), 400, 'invalid_input');
  });

  it('editor PATCH → 403', async () => {
    expectError(await s.request('PATCH', '/v1/account', { key: acct.keys.editor, json: { name: 'x' } }), 403, 'insufficient_permission');
  });
});
