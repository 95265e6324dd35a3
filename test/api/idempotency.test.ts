import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../packages/engine/src/canonical-json.js';
import { hashToken, sha256Hex } from '../../src/domain/crypto.js';
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

const ik = (key: string) => ({ 'idempotency-key': key });
const deploysOf = async (key: string) => (await s.request('GET', '/v1/deploys?limit=100', { key })).body.items as { id: string; slug: string }[];

describe('Idempotency-Key on POST /v1/deploys', () => {
  it('same key + same body → the same status and body with Idempotent-Replayed: true; one deploy', async () => {
    const body = { slug: 'once', name: 'Once' };
    const first = await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: body, headers: ik('k-once') });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    s.clock.advance(60_000);
    // key order does not matter: the body is compared canonically
    const again = await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { name: 'Once', slug: 'once' }, headers: ik('k-once') });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-type')).toMatch(/^application\/json/);
    expect(again.body).toEqual(first.body);
    // another key of the same account does not share the scope (spec §9.2): it runs as a new request
    const byAdmin = await s.request('POST', '/v1/deploys', { key: acct.keys.admin, json: body, headers: ik('k-once') });
    expect(byAdmin.headers.get('idempotent-replayed')).toBeNull();
    expectError(byAdmin, 409, 'deploy_slug_conflict');
    expect((await deploysOf(acct.keys.viewer)).filter((d) => d.slug === 'once')).toHaveLength(1);
  });

  it('same key + different body → 422 idempotency_key_mismatch', async () => {
    await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { slug: 'mm', name: 'A' }, headers: ik('k-mm') });
    const res = await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { slug: 'mm', name: 'B' }, headers: ik('k-mm') });
    expectError(res, 422, 'idempotency_key_mismatch');
    expect((await deploysOf(acct.keys.viewer)).find((d) => d.slug === 'mm')).toMatchObject({ slug: 'mm' });
  });

  it('10 concurrent duplicates → exactly one deploy; the rest are replays or 409 idempotency_key_in_use', async () => {
    const body = { slug: 'racy', name: 'Racy' };
    const all = await Promise.all(Array.from({ length: 10 }, () => s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: body, headers: ik('k-race') })));
    const created = all.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') === null);
    expect(created).toHaveLength(1);
    for (const r of all) {
      if (r === created[0]) continue;
      if (r.status === 201) {
        expect(r.headers.get('idempotent-replayed')).toBe('true');
        expect(r.body).toEqual(created[0].body);
      } else {
        expectError(r, 409, 'idempotency_key_in_use');
      }
    }
    expect((await deploysOf(acct.keys.viewer)).filter((d) => d.slug === 'racy')).toHaveLength(1);
    // after the first finished, every retry is a replay
    const later = await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: body, headers: ik('k-race') });
    expect(later.headers.get('idempotent-replayed')).toBe('true');
    expect(later.body).toEqual(created[0].body);
  });

  it('a key whose first request is still running → 409 idempotency_key_in_use; an abandoned one is taken over after 10 min', async () => {
    const body = { slug: 'in-flight', name: 'x' };
    // what the plugin reserves when the first request starts (its handler has not answered yet)
    const editorKeyId = (await s.deps.db.apiKeys.getByHash(hashToken(acct.keys.editor)))!.id;
    const scope = { accountId: acct.accountId, apiKeyId: editorKeyId, method: 'POST', route: '/v1/deploys', key: 'k-in-flight' };
    expect(await s.deps.db.idempotency.reserve(scope, sha256Hex(canonicalJson({ params: {}, body })), s.clock.now())).toBeNull();
    const busy = await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: body, headers: ik('k-in-flight') });
    expectError(busy, 409, 'idempotency_key_in_use');
    expectError(await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { ...body, name: 'y' }, headers: ik('k-in-flight') }), 422, 'idempotency_key_mismatch');
    expect((await deploysOf(acct.keys.viewer)).find((d) => d.slug === 'in-flight')).toBeUndefined();
    s.clock.advance(10 * 60_000 + 1);
    const takeover = await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: body, headers: ik('k-in-flight') });
    expect(takeover.status).toBe(201);
    expect(takeover.headers.get('idempotent-replayed')).toBeNull();
  });

  it('a request that fails validation is not stored: the same key then runs with a valid body', async () => {
    expectError(await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { slug: 'Bad Slug', name: 'x' }, headers: ik('k-invalid') }), 400, 'invalid_input');
    expectError(await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { slug: 'valid', name: 1 }, headers: ik('k-invalid') }), 400, 'invalid_input');
    const ok = await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { slug: 'valid', name: 'ok' }, headers: ik('k-invalid') });
    expect(ok.status).toBe(201);
    expect(ok.headers.get('idempotent-replayed')).toBeNull();
  });

  it('auth and permission failures are not stored either', async () => {
    expectError(await s.request('POST', '/v1/deploys', { key: acct.keys.viewer, json: { slug: 'perm', name: 'p' }, headers: ik('k-perm') }), 403, 'insufficient_permission');
    expectError(await s.request('POST', '/v1/deploys', { key: null, json: { slug: 'perm', name: 'p' }, headers: ik('k-perm') }), 401, 'missing_authorization');
    const ok = await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { slug: 'perm', name: 'p' }, headers: ik('k-perm') });
    expect(ok.status).toBe(201);
    expect(ok.headers.get('idempotent-replayed')).toBeNull();
  });

  it('a 409 slug conflict IS stored and replayed, even after the slug is free again', async () => {
    const holder = await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { slug: 'held', name: 'holder' } });
    const conflict = await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { slug: 'held', name: 'second' }, headers: ik('k-conflict') });
    expectError(conflict, 409, 'deploy_slug_conflict');
    expect((await s.request('DELETE', `/v1/deploys/${holder.body.deploy.id}`, { key: acct.keys.editor })).status).toBe(204);
    const replay = await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { slug: 'held', name: 'second' }, headers: ik('k-conflict') });
    expectError(replay, 409, 'deploy_slug_conflict');
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(conflict.body);
    expect((await deploysOf(acct.keys.viewer)).find((d) => d.slug === 'held')).toBeUndefined();
  });

  it('a key over 255 characters → 400 invalid_header; 255 is fine', async () => {
    const res = await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { slug: 'long-key', name: 'x' }, headers: ik('k'.repeat(256)) });
    expectError(res, 400, 'invalid_header');
    expect(res.body.message).toMatch(/idempotency-key/i);
    expect((await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: { slug: 'long-key', name: 'x' }, headers: ik('k'.repeat(255)) })).status).toBe(201);
  });

  it('keys are scoped per account: the same key in two accounts creates two deploys', async () => {
    const body = { slug: 'shared-key', name: 'x' };
    const a = await s.request('POST', '/v1/deploys', { key: acct.keys.editor, json: body, headers: ik('k-shared') });
    const b = await s.request('POST', '/v1/deploys', { key: other.keys.editor, json: body, headers: ik('k-shared') });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(b.headers.get('idempotent-replayed')).toBeNull();
    expect(b.body.deploy.id).not.toBe(a.body.deploy.id);
    expect(b.body.deploy.accountId).toBe(other.accountId);
    // a different body under the same key in the other account is not a mismatch either
    expect((await s.request('POST', '/v1/api-keys', { key: other.keys.admin, json: { name: 'n', role: 'viewer' }, headers: ik('k-shared') })).status).toBe(201);
  });

  it('keys are scoped per route: the same key on POST /v1/api-keys is a separate request', async () => {
    const d = await s.request('POST', '/v1/deploys', { key: acct.keys.admin, json: { slug: 'route-scope', name: 'x' }, headers: ik('k-route') });
    const k = await s.request('POST', '/v1/api-keys', { key: acct.keys.admin, json: { name: 'route-scope', role: 'viewer' }, headers: ik('k-route') });
    expect([d.status, k.status]).toEqual([201, 201]);
    expect(k.headers.get('idempotent-replayed')).toBeNull();
    expect(k.body.key).toMatch(/^pcak_/);
  });
});

describe('Idempotency-Key on POST /v1/api-keys', () => {
  it('replays the first response; the replayed key works; the stored response does not hold the key in clear', async () => {
    const body = { name: 'ci', role: 'editor' };
    const first = await s.request('POST', '/v1/api-keys', { key: acct.keys.admin, json: body, headers: ik('k-apikey') });
    expect(first.status).toBe(201);
    const replay = await s.request('POST', '/v1/api-keys', { key: acct.keys.admin, json: body, headers: ik('k-apikey') });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(first.body);
    expect((await s.request('GET', '/v1/account', { key: replay.body.key })).status).toBe(200);
    const listed = (await s.request('GET', '/v1/api-keys?limit=100', { key: acct.keys.admin })).body.items.filter((k: { name: string }) => k.name === 'ci');
    expect(listed).toHaveLength(1);
    expect((await databaseBytes(s)).includes(first.body.key)).toBe(false);
    expectError(await s.request('POST', '/v1/api-keys', { key: acct.keys.admin, json: { name: 'ci', role: 'admin' }, headers: ik('k-apikey') }), 422, 'idempotency_key_mismatch');
  });

  it('keys expire after 24 h: the same key then runs again', async () => {
    const body = { name: 'expiring', role: 'viewer' };
    const first = await s.request('POST', '/v1/api-keys', { key: acct.keys.admin, json: body, headers: ik('k-expiry') });
    s.clock.advance(24 * 3600_000 - 1);
    const within = await s.request('POST', '/v1/api-keys', { key: acct.keys.admin, json: body, headers: ik('k-expiry') });
    expect(within.headers.get('idempotent-replayed')).toBe('true');
    expect(within.body.apiKey.id).toBe(first.body.apiKey.id);
    s.clock.advance(2);
    const after = await s.request('POST', '/v1/api-keys', { key: acct.keys.admin, json: body, headers: ik('k-expiry') });
    expect(after.status).toBe(201);
    expect(after.headers.get('idempotent-replayed')).toBeNull();
    expect(after.body.apiKey.id).not.toBe(first.body.apiKey.id);
    // and after expiry a different body is allowed under the old key
    s.clock.advance(24 * 3600_000 + 1);
    expect((await s.request('POST', '/v1/api-keys', { key: acct.keys.admin, json: { name: 'other', role: 'viewer' }, headers: ik('k-expiry') })).status).toBe(201);
  });
});
