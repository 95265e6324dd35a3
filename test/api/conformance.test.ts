import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/model/records.js';
import type { TestServer } from '../helpers/server.js';
import { deployFiles, manifest } from '../helpers/uploads.js';
import { expectError, startApiServer } from './helpers.js';

/** Conformance to the published docs where we differed (spec §9.2). */
let s: TestServer;
let a: { accountId: string; keys: Record<Role, string> };
let deployId: string;
beforeAll(async () => {
  s = await startApiServer();
  a = await s.newAccount('conform');
  deployId = (await deployFiles(s, { createDeploy: { slug: 'conform', name: 'C' } }, [{ path: 'index.html', content: '<p>c</p>' }], { key: a.keys.editor })).deployId;
});
afterAll(async () => s.stop());

describe('payload: a string with a non-JSON payloadMime', () => {
  it('text/csv, XML and plain text strings are accepted (202); the payload is the string itself', async () => {
    for (const [payloadMime, payload] of [['text/csv', 'number,total\nINV-1,12.50\n'], ['application/xml', '<invoice n="1"/>'], ['text/plain; charset=utf-8', 'héllo']]) {
      const res = await s.request('POST', '/v1/render-jobs', { key: a.keys.editor, json: { deployId, payloadMime, payload } });
      expect(res.status, res.text).toBe(202);
      const stored = await s.deps.db.renderJobs.payload(res.body.job.id);
      expect(stored).toEqual({ mime: payloadMime, body: Buffer.from(payload, 'utf8') });
    }
  });

  it('a non-string payload with a non-JSON payloadMime is 400; JSON mimes still canonicalise', async () => {
    expectError(await s.request('POST', '/v1/render-jobs', { key: a.keys.editor, json: { deployId, payloadMime: 'text/csv', payload: { a: 1 } } }), 400, 'invalid_input');
    const json = await s.request('POST', '/v1/render-jobs', { key: a.keys.editor, json: { deployId, payload: { b: 1, a: 'x' } } });
    expect((await s.deps.db.renderJobs.payload(json.body.job.id))!.body.toString()).toBe('{"a":"x","b":1}');
  });
});

describe('ids in the docs\' short form', () => {
  it('well-formed ids that name nothing → 404 with the resource\'s code', async () => {
    expectError(await s.request('GET', '/v1/render-jobs/rj_abc123', { key: a.keys.viewer }), 404, 'render_job_not_found');
    expectError(await s.request('GET', '/v1/deploys/dpl_abc123', { key: a.keys.viewer }), 404, 'deploy_not_found');
    expectError(await s.request('GET', `/v1/deploys/${deployId}/versions/dv_456`, { key: a.keys.viewer }), 404, 'deploy_version_not_found');
    expectError(await s.request('GET', '/v1/pdfs/pdf_1', { key: a.keys.viewer }), 404, 'pdf_not_found');
    expectError(await s.request('GET', '/v1/upload-sessions/us_x', { key: a.keys.viewer }), 404, 'upload_session_not_found');
    expectError(await s.request('POST', '/v1/render-jobs', { key: a.keys.editor, json: { deployId: 'dpl_abc123' } }), 404, 'deploy_not_found');
    const long = `rj_${'a'.repeat(125)}`; // 128 characters
    expectError(await s.request('GET', `/v1/render-jobs/${long}`, { key: a.keys.viewer }), 404, 'render_job_not_found');
  });

  it('a filter by such an id is an empty list', async () => {
    for (const path of ['/v1/render-jobs?deployId=dpl_abc123', '/v1/pdfs?deployId=dpl_abc123']) {
      const res = await s.request('GET', path, { key: a.keys.viewer });
      expect(res.status, path).toBe(200);
      expect(res.body).toEqual({ items: [], nextCursor: null });
    }
  });

  it('only impossible ids are 400: other characters, another prefix, over 128 characters', async () => {
    for (const id of ['rj_ab!c', 'rj_', 'dpl_abc123', `rj_${'a'.repeat(126)}`]) {
      expectError(await s.request('GET', `/v1/render-jobs/${encodeURIComponent(id)}`, { key: a.keys.viewer }), 400, 'invalid_path_param');
    }
  });
});

describe('unknown body fields are accepted and ignored everywhere', () => {
  it('missing-blobs, blob commit and render job create take bodies with fields we have not seen', async () => {
    const files = [{ path: 'index.html', content: `<p>${Math.random()}</p>` }];
    const m = manifest(files);
    const created = await s.request('POST', '/v1/upload-sessions', {
      key: a.keys.editor, json: { deployId, files: m.map((f) => ({ ...f, mode: '0644' })), message: 'release 1', labels: { ci: true } },
    });
    expect(created.status, created.text).toBe(201);
    const tok = { 'x-upload-token': created.body.uploadToken };
    const id = created.body.uploadSession.id;
    const missing = await s.request('POST', `/v1/upload-sessions/${id}/missing-blobs`, { key: a.keys.editor, headers: tok, json: { sha256: [m[0].sha256], includeSizes: true } });
    expect(missing.status, missing.text).toBe(200);
    expect(missing.body.missing).toEqual([m[0].sha256]);
    await s.request('PUT', `/v1/upload-sessions/${id}/blobs/${m[0].sha256}`, { key: a.keys.editor, headers: { ...tok, 'content-type': 'application/octet-stream' }, body: files[0].content });
    const commit = await s.request('POST', `/v1/upload-sessions/${id}/commit`, { key: a.keys.editor, headers: tok, json: { aliases: ['staging'], message: 'x', activate: true } });
    expect(commit.status, commit.text).toBe(201);
    const job = await s.request('POST', '/v1/render-jobs', { key: a.keys.editor, json: { deployId, priority: 'high', options: { landscape: true } } });
    expect(job.status, job.text).toBe(202);
    expect(await s.request('POST', `/v1/render-jobs/${job.body.job.id}/cancel`, { key: a.keys.editor, json: { reason: 'test' } })).toMatchObject({ status: 200 });
  });
});

describe('binary byte units (spec §9.2)', () => {
  it('a 10 400 000-byte file is within the 10 MB (10 485 760) file limit; 10 485 761 is over', async () => {
    const file = (size: number) => [{ path: 'big.bin', sha256: 'a'.repeat(64), size, mime: 'application/octet-stream' }];
    expect((await s.request('POST', '/v1/upload-sessions', { key: a.keys.editor, json: { deployId, files: file(10_400_000) } })).status).toBe(201);
    expect((await s.request('POST', '/v1/upload-sessions', { key: a.keys.editor, json: { deployId, files: file(10_485_760) } })).status).toBe(201);
    expectError(await s.request('POST', '/v1/upload-sessions', { key: a.keys.editor, json: { deployId, files: file(10_485_761) } }), 400, 'upload_blob_too_large');
  });

  it('free plan: 25 MB per commit is 26 214 400 bytes', async () => {
    const free = await s.newAccount('conform-free', 'free');
    const files = (last: number) => [0, 1, 2].map((i) => ({ path: `f${i}`, sha256: String(i).repeat(64), size: i < 2 ? 10 * 1024 * 1024 : last, mime: 'application/octet-stream' }));
    const ok = await s.request('POST', '/v1/upload-sessions', { key: free.keys.editor, json: { createDeploy: { slug: 'units', name: 'u' }, files: files(5 * 1024 * 1024) } });
    expect(ok.status, ok.text).toBe(201);
    expectError(await s.request('POST', '/v1/upload-sessions', { key: free.keys.editor, json: { deployId: ok.body.uploadSession.deployId, files: files(5 * 1024 * 1024 + 1) } }), 400, 'upload_session_policy_limit_exceeded');
  });
});

describe('deploy webhook signing secret: enable, rotate, disable (and clear)', () => {
  it('each action does what the docs say; a new secret is shown once', async () => {
    const patch = (action: string) => s.request('PATCH', `/v1/deploys/${deployId}/settings`, { key: a.keys.editor, json: { webhook: { signingSecretAction: action } } });
    const enabled = await patch('enable');
    expect(enabled.status, enabled.text).toBe(200);
    const secret = enabled.body.settings.webhook.signingSecret as string;
    expect(secret).toMatch(/^whsec_/);
    expect(enabled.body.settings.webhook.signingSecretPreview).toMatch(/^whsec_\*+/);
    // enabling again keeps the secret (and shows none)
    const again = await patch('enable');
    expect(again.body.settings.webhook).not.toHaveProperty('signingSecret');
    expect(again.body.settings.webhook.signingSecretPreview).toBe(enabled.body.settings.webhook.signingSecretPreview);
    const rotated = await patch('rotate');
    expect(rotated.body.settings.webhook.signingSecret).toMatch(/^whsec_/);
    expect(rotated.body.settings.webhook.signingSecret).not.toBe(secret);
    expect((await patch('disable')).body.settings.webhook.signingSecretPreview).toBeNull();
    await patch('enable');
    expect((await patch('clear')).body.settings.webhook.signingSecretPreview).toBeNull();
    expectError(await patch('reveal'), 400, 'invalid_input');
  });
});

describe('a disabled API key can be enabled again', () => {
  it('PATCH /v1/api-keys/{keyId} {"disabled": false}; the disabled error says how', async () => {
    const created = await s.request('POST', '/v1/api-keys', { key: a.keys.admin, json: { name: 'toggle', role: 'viewer' } });
    const { apiKey, key } = created.body;
    expect((await s.request('DELETE', `/v1/api-keys/${apiKey.id}`, { key: a.keys.admin })).status).toBe(204);
    const refused = await s.request('GET', '/v1/account', { key });
    expectError(refused, 403, 'api_key_disabled');
    expect(refused.body.message).toMatch(/enable the key/);
    const enabled = await s.request('PATCH', `/v1/api-keys/${apiKey.id}`, { key: a.keys.admin, json: { disabled: false } });
    expect(enabled.status, enabled.text).toBe(200);
    expect(enabled.body.apiKey).toMatchObject({ id: apiKey.id, disabledAt: null });
    expect((await s.request('GET', '/v1/account', { key })).status).toBe(200);
    const disabled = await s.request('PATCH', `/v1/api-keys/${apiKey.id}`, { key: a.keys.admin, json: { disabled: true } });
    expect(disabled.body.apiKey.disabledAt).toBe(s.clock.now());
    expectError(await s.request('GET', '/v1/account', { key }), 403, 'api_key_disabled');
    // admin only; other accounts' keys are not found
    expectError(await s.request('PATCH', `/v1/api-keys/${apiKey.id}`, { key: a.keys.editor, json: { disabled: false } }), 403, 'insufficient_permission');
    expectError(await s.request('PATCH', `/v1/api-keys/${apiKey.id}`, { json: { disabled: false } }), 404, 'api_key_not_found');
  });
});
