import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/model/records.js';
import type { TestServer } from '../helpers/server.js';
import { deployFiles } from '../helpers/uploads.js';
import { createDeploy, databaseBytes, expectError, startApiServer } from './helpers.js';

let s: TestServer;
let acct: { accountId: string; keys: Record<Role, string> };
beforeAll(async () => {
  s = await startApiServer();
  acct = await s.newAccount('acme');
});
afterAll(async () => s.stop());

describe('aliases', () => {
  let deployId: string;
  let v1: string;
  let v2: string;
  let elsewhere: string;
  beforeAll(async () => {
    const first = await deployFiles(s, { createDeploy: { slug: 'aliased', name: 'A' } }, [{ path: 'index.html', content: 'v1' }], { key: acct.keys.editor });
    deployId = first.deployId;
    v1 = first.deployVersion.id;
    s.clock.advance(1000);
    v2 = (await deployFiles(s, { deployId }, [{ path: 'index.html', content: 'v2' }], { key: acct.keys.editor })).deployVersion.id;
    elsewhere = (await deployFiles(s, { createDeploy: { slug: 'elsewhere', name: 'E' } }, [{ path: 'index.html', content: 'e' }], { key: acct.keys.editor })).deployVersion.id;
  });

  it('PUT preview (editor) → 200 {alias}; re-pointing updates it', async () => {
    const res = await s.request('PUT', `/v1/deploys/${deployId}/aliases/preview`, { key: acct.keys.editor, json: { deployVersionId: v1 } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ alias: { name: 'preview', deployId, deployVersionId: v1, updatedAt: s.clock.now() } });
    s.clock.advance(5);
    const moved = await s.request('PUT', `/v1/deploys/${deployId}/aliases/preview`, { key: acct.keys.editor, json: { deployVersionId: v2 } });
    expect(moved.body.alias).toEqual({ name: 'preview', deployId, deployVersionId: v2, updatedAt: s.clock.now() });
  });

  it('production needs admin; viewers set nothing', async () => {
    expectError(await s.request('PUT', `/v1/deploys/${deployId}/aliases/production`, { key: acct.keys.editor, json: { deployVersionId: v1 } }), 403, 'insufficient_permission');
    expectError(await s.request('PUT', `/v1/deploys/${deployId}/aliases/preview`, { key: acct.keys.viewer, json: { deployVersionId: v1 } }), 403, 'insufficient_permission');
    expect((await s.request('PUT', `/v1/deploys/${deployId}/aliases/production`, { key: acct.keys.admin, json: { deployVersionId: v1 } })).status).toBe(200);
    expectError(await s.request('DELETE', `/v1/deploys/${deployId}/aliases/production`, { key: acct.keys.editor }), 403, 'insufficient_permission');
    // any slug-like name works for editors
    expect((await s.request('PUT', `/v1/deploys/${deployId}/aliases/staging-2`, { key: acct.keys.editor, json: { deployVersionId: v1 } })).status).toBe(200);
  });

  it('GET lists them (by name) and GET deploy embeds them', async () => {
    const list = await s.request('GET', `/v1/deploys/${deployId}/aliases`, { key: acct.keys.viewer });
    expect(list.status).toBe(200);
    expect(list.body.nextCursor).toBeNull();
    expect(list.body.items.map((a: { name: string; deployVersionId: string }) => [a.name, a.deployVersionId])).toEqual([
      ['preview', v2], ['production', v1], ['staging-2', v1],
    ]);
    const deploy = await s.request('GET', `/v1/deploys/${deployId}`, { key: acct.keys.viewer });
    expect(deploy.body.deploy.aliases).toEqual(list.body.items);
    expect(deploy.body.deploy.latestVersionId).toBe(v2);
  });

  it('"latest" and malformed names → 400', async () => {
    const latest = await s.request('PUT', `/v1/deploys/${deployId}/aliases/latest`, { key: acct.keys.admin, json: { deployVersionId: v1 } });
    expect(latest.status).toBe(400);
    expectError(latest, 400, latest.body.error);
    expect(['invalid_path_param', 'invalid_input']).toContain(latest.body.error);
    expect(latest.body.message).toMatch(/latest/);
    for (const name of ['Prod', '-x', 'x-', 'a_b', 'a'.repeat(64), '%20']) {
      const res = await s.request('PUT', `/v1/deploys/${deployId}/aliases/${name}`, { key: acct.keys.admin, json: { deployVersionId: v1 } });
      expect(res.status, name).toBe(400);
      expect(['invalid_path_param', 'invalid_input']).toContain(res.body.error);
      expectError(res, 400, res.body.error);
    }
    expectError(await s.request('PUT', `/v1/deploys/${deployId}/aliases/preview`, { key: acct.keys.admin, json: {} }), 400, 'invalid_input');
    expectError(await s.request('PUT', `/v1/deploys/${deployId}/aliases/preview`, { key: acct.keys.admin, json: { deployVersionId: 'latest' } }), 400, 'invalid_input');
  });

  it('an alias to another deploy\'s version → 404', async () => {
    expectError(await s.request('PUT', `/v1/deploys/${deployId}/aliases/preview`, { key: acct.keys.editor, json: { deployVersionId: elsewhere } }), 404, 'deploy_version_not_found');
    const list = await s.request('GET', `/v1/deploys/${deployId}/aliases`, { key: acct.keys.viewer });
    expect(list.body.items.find((a: { name: string }) => a.name === 'preview').deployVersionId).toBe(v2);
  });

  it('DELETE → 204; a missing alias → 404 alias_not_found', async () => {
    const del = await s.request('DELETE', `/v1/deploys/${deployId}/aliases/staging-2`, { key: acct.keys.editor });
    expect(del.status).toBe(204);
    expectError(await s.request('DELETE', `/v1/deploys/${deployId}/aliases/staging-2`, { key: acct.keys.editor }), 404, 'alias_not_found');
    expectError(await s.request('DELETE', `/v1/deploys/${deployId}/aliases/never-set`, { key: acct.keys.editor }), 404, 'alias_not_found');
    expect((await s.request('DELETE', `/v1/deploys/${deployId}/aliases/production`, { key: acct.keys.admin })).status).toBe(204);
    const names = (await s.request('GET', `/v1/deploys/${deployId}/aliases`, { key: acct.keys.viewer })).body.items.map((a: { name: string }) => a.name);
    expect(names).toEqual(['preview']);
  });
});

describe('settings', () => {
  let deployId: string;
  beforeAll(async () => {
    deployId = await createDeploy(s, 'configured', { key: acct.keys.editor });
  });
  const patch = (json: unknown, key = acct.keys.editor) => s.request('PATCH', `/v1/deploys/${deployId}/settings`, { key, json });

  it('GET shape {settings:{webhook:{enabled,url,signingSecretPreview},env,secrets}}', async () => {
    const res = await s.request('GET', `/v1/deploys/${deployId}/settings`, { key: acct.keys.viewer });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ settings: { webhook: { enabled: false, url: null, signingSecretPreview: null }, env: {}, secrets: [] } });
  });

  it('env and secrets: set, list (secret names only), null deletes', async () => {
    const secretValue = 'sk_live_TOP_SECRET_4f9a1c';
    const res = await patch({ env: { API_BASE: 'https://api.example.test', _UNDER: '1' }, secrets: { STRIPE_KEY: secretValue, OTHER: 'another-secret-value-77' } });
    expect(res.status).toBe(200);
    expect(res.body.settings.env).toEqual({ API_BASE: 'https://api.example.test', _UNDER: '1' });
    expect([...res.body.settings.secrets].sort()).toEqual(['OTHER', 'STRIPE_KEY']);
    expect(res.text).not.toContain(secretValue);
    const got = await s.request('GET', `/v1/deploys/${deployId}/settings`, { key: acct.keys.viewer });
    expect(got.body.settings).toEqual(res.body.settings);
    expect(got.text).not.toContain(secretValue);
    expect(got.text).not.toContain('another-secret-value-77');

    const changed = await patch({ env: { API_BASE: null, NEW: 'v' }, secrets: { OTHER: null } });
    expect(changed.body.settings.env).toEqual({ _UNDER: '1', NEW: 'v' });
    expect(changed.body.settings.secrets).toEqual(['STRIPE_KEY']);
    // deleting what does not exist is a no-op
    expect((await patch({ env: { NEVER_SET: null } })).status).toBe(200);
  });

  it('secrets are encrypted at rest: the plaintext is not in the database (env values are, as a control)', async () => {
    const secretValue = 'plaintext-secret-ZX81-do-not-store';
    const envValue = 'plaintext-env-value-C64';
    expect((await patch({ env: { VISIBLE: envValue }, secrets: { HIDDEN: secretValue } })).status).toBe(200);
    const bytes = await databaseBytes(s);
    expect(bytes.includes(envValue)).toBe(true);
    expect(bytes.includes(secretValue)).toBe(false);
    const [row] = await s.sql<{ value: string }>(`SELECT value FROM deploy_vars WHERE deploy_id = ? AND kind = 'secret' AND name = 'HIDDEN'`, [deployId]);
    expect(row.value).not.toContain(secretValue);
    expect(row.value.length).toBeGreaterThan(secretValue.length);
  });

  it('bad names, values over 4 KiB and more than 100 vars → 400 invalid_input', async () => {
    for (const name of ['lower', '1LEADING_DIGIT', 'HAS-DASH', 'HAS SPACE', '']) {
      const env = await patch({ env: { [name]: 'x' } });
      expectError(env, 400, 'invalid_input');
      expectError(await patch({ secrets: { [name]: 'x' } }), 400, 'invalid_input');
    }
    expect((await patch({ env: { MAX: 'x'.repeat(4096) } })).status).toBe(200);
    expectError(await patch({ env: { BIG: 'x'.repeat(4097) } }), 400, 'invalid_input');
    expectError(await patch({ secrets: { BIG: 'é'.repeat(2049) } }), 400, 'invalid_input');
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`V${i}`, 'x']));
    expectError(await patch({ env: many }), 400, 'invalid_input');
    expectError(await patch({ secrets: many }), 400, 'invalid_input');
    // 100 in total is the limit, counting those already set
    const current = Object.keys((await s.request('GET', `/v1/deploys/${deployId}/settings`, { key: acct.keys.viewer })).body.settings.env).length;
    const fill = Object.fromEntries(Array.from({ length: 100 - current }, (_, i) => [`F${i}`, 'x']));
    expect((await patch({ env: fill })).status).toBe(200);
    const over = await patch({ env: { ONE_MORE: 'x' } });
    expectError(over, 400, 'invalid_input');
    expect(over.body.message).toMatch(/100/);
    // replacing one and deleting one keeps within the limit
    expect((await patch({ env: { F0: null, ONE_MORE: 'x', F1: 'changed' } })).status).toBe(200);
    // nothing half-applied by the failed requests
    const env = (await s.request('GET', `/v1/deploys/${deployId}/settings`, { key: acct.keys.viewer })).body.settings.env;
    expect(Object.keys(env)).toHaveLength(100);
    expect(env.BIG).toBeUndefined();
  });

  it('webhook: url and enabled; enabling without url → 400; rotate shows the secret once; clear sets the preview to null', async () => {
    const other = await createDeploy(s, 'hooked', { key: acct.keys.editor });
    const p = (json: unknown) => s.request('PATCH', `/v1/deploys/${other}/settings`, { key: acct.keys.editor, json });
    expectError(await p({ webhook: { enabled: true } }), 400, 'invalid_input');
    expectError(await p({ webhook: { url: 'ftp://example.test/hook' } }), 400, 'invalid_input');
    expectError(await p({ webhook: { url: 'not a url' } }), 400, 'invalid_input');
    expectError(await p({ webhook: { url: 'https://user:pw@example.test/hook' } }), 400, 'invalid_input');

    const set = await p({ webhook: { enabled: true, url: 'https://hooks.example.test/press' } });
    expect(set.status).toBe(200);
    expect(set.body.settings.webhook).toEqual({ enabled: true, url: 'https://hooks.example.test/press', signingSecretPreview: null });
    expectError(await p({ webhook: { url: null } }), 400, 'invalid_input');

    const rotated = await p({ webhook: { signingSecretAction: 'rotate' } });
    expect(rotated.status).toBe(200);
    const { signingSecret, signingSecretPreview } = rotated.body.settings.webhook;
    expect(signingSecret).toMatch(/^whsec_[A-Za-z0-9_-]{32,}$/);
    expect(signingSecretPreview).toBe(`whsec_******…${signingSecret.slice(-4)}`);
    const got = await s.request('GET', `/v1/deploys/${other}/settings`, { key: acct.keys.editor });
    expect(got.body.settings.webhook).toEqual({ enabled: true, url: 'https://hooks.example.test/press', signingSecretPreview });
    expect(got.text).not.toContain(signingSecret);
    expect((await databaseBytes(s)).includes(signingSecret)).toBe(false);

    const cleared = await p({ webhook: { signingSecretAction: 'clear', enabled: false, url: null } });
    expect(cleared.body.settings.webhook).toEqual({ enabled: false, url: null, signingSecretPreview: null });
    expectError(await p({ webhook: { signingSecretAction: 'reveal' } }), 400, 'invalid_input');
  });

  it('a webhook url to a private address is accepted when the operator allows it (test default)', async () => {
    const res = await patch({ webhook: { url: 'http://127.0.0.1:9/hook' } });
    expect(res.status).toBe(200);
    expect(res.body.settings.webhook.url).toBe('http://127.0.0.1:9/hook');
  });
});

describe('webhook URLs without PRESS_WEBHOOK_ALLOW_PRIVATE', () => {
  let strict: TestServer;
  beforeAll(async () => {
    strict = await startApiServer({ PRESS_WEBHOOK_ALLOW_PRIVATE: 'false' });
  });
  afterAll(async () => strict.stop());

  it('loopback, private, link-local and metadata addresses → 400 invalid_input; a public literal is accepted', async () => {
    const id = await createDeploy(strict, 'hooks');
    for (const url of [
      'http://127.0.0.1/hook', 'https://127.0.0.1:8443/hook', 'http://10.0.0.1/hook', 'http://169.254.169.254/latest/meta-data',
      'http://[::1]:8080/hook', 'http://192.168.1.10/', 'http://[::ffff:127.0.0.1]/', 'http://0.0.0.0/', 'http://2130706433/',
    ]) {
      const res = await strict.request('PATCH', `/v1/deploys/${id}/settings`, { json: { webhook: { url, enabled: true } } });
      expectError(res, 400, 'invalid_input');
      expect(res.body.message, url).toMatch(/PRESS_WEBHOOK_ALLOW_PRIVATE/);
    }
    const settings = await strict.request('GET', `/v1/deploys/${id}/settings`);
    expect(settings.body.settings.webhook).toEqual({ enabled: false, url: null, signingSecretPreview: null });
    const ok = await strict.request('PATCH', `/v1/deploys/${id}/settings`, { json: { webhook: { url: 'https://93.184.215.14/hook', enabled: true } } });
    expect(ok.status).toBe(200);
  });
});
