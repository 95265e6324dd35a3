import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.js';
import {
  blobFile, blobOnDisk, commit, createSession, deploy, expectError, manifest, missingBlobs, newDeploy, putBlob, sha, uniqueFiles, uniqueSlug, uploadAll, startUploadServer,
} from './support.js';
import { readFileSync } from 'node:fs';

let s: TestServer;
beforeAll(async () => {
  s = await startUploadServer();
});
afterAll(async () => s.stop());

const HOUR = 3600_000;

describe('upload sessions: documented flow', () => {
  it('inline createDeploy → missing-blobs → PUT → commit with aliases → GET session → version files', async () => {
    const salt = Math.random().toString(36);
    const files = [
      { path: 'index.html', content: `<h1>${salt}</h1>`, mime: 'text/html; charset=utf-8' },
      { path: 'assets/app.css', content: `h1{color:red} /*${salt}*/`, mime: 'text/css' },
      { path: 'assets/copy.css', content: `h1{color:red} /*${salt}*/`, mime: 'text/css' }, // same blob under two paths
      { path: 'empty.txt', content: '', mime: 'text/plain' },
    ];
    const m = manifest(files);
    const slug = uniqueSlug('flow');
    const before = s.clock.now();
    const created = await s.request('POST', '/v1/upload-sessions', { json: { createDeploy: { slug, name: 'Flow' }, files: m } });
    expect(created.status).toBe(201);
    const us = created.body.uploadSession;
    expect(us).toMatchObject({
      id: expect.stringMatching(/^us_[0-9A-Za-z_-]{20,}$/), status: 'open', requestedFileCount: 4,
      requestedBytes: m.reduce((n, f) => n + f.size, 0), createdAt: before,
    });
    expect(us.expiresAt).toBe(us.createdAt + HOUR);
    expect(created.body.uploadToken).toMatch(/^ustk_[A-Za-z0-9_-]{20,}$/);
    const session = { id: us.id as string, token: created.body.uploadToken as string };

    const deployRes = await s.request('GET', `/v1/deploys/${us.deployId}`);
    expect(deployRes.status).toBe(200);
    expect(deployRes.body.deploy).toMatchObject({ slug, name: 'Flow', latestVersionId: null });

    // all missing (distinct hashes, sorted set semantics)
    const distinct = [...new Set(m.map((f) => f.sha256))];
    const missing = await missingBlobs(s, session);
    expect(missing.status).toBe(200);
    expect(missing.body.uploadSessionId).toBe(session.id);
    expect([...missing.body.missing].sort()).toEqual([...distinct].sort());
    expect(missing.body.missingBytes).toBe(distinct.reduce((n, h) => n + m.find((f) => f.sha256 === h)!.size, 0));

    // subset
    const subset = await missingBlobs(s, session, { subset: [m[0].sha256] });
    expect(subset.status).toBe(200);
    expect(subset.body).toEqual({ uploadSessionId: session.id, missing: [m[0].sha256], missingBytes: m[0].size });

    // a subset of hashes outside the session is simply not missing; malformed hashes → 400
    const foreign = await missingBlobs(s, session, { subset: ['f'.repeat(64)] });
    expect(foreign.body).toEqual({ uploadSessionId: session.id, missing: [], missingBytes: 0 });
    expectError(await missingBlobs(s, session, { subset: ['XYZ'] }), 400, 'invalid_input');

    // PUT each blob; a second PUT of the same blob is alreadyPresent
    for (const h of distinct) {
      const f = m.find((x) => x.sha256 === h)!;
      const i = m.indexOf(f);
      const put = await putBlob(s, session, h, Buffer.from(files[i].content));
      expect(put.status).toBe(200);
      expect(put.body).toEqual({
        uploadSessionId: session.id, alreadyPresent: false,
        blob: { sha256: h, size: f.size, mime: f.mime, r2Key: expect.stringContaining(h) },
      });
      expect(readFileSync(blobFile(s, h)).equals(Buffer.from(files[i].content))).toBe(true);
    }
    const again = await putBlob(s, session, m[0].sha256, Buffer.from(files[0].content));
    expect(again.status).toBe(200);
    expect(again.body.alreadyPresent).toBe(true);
    expect(again.body.blob).toMatchObject({ sha256: m[0].sha256, size: m[0].size, mime: m[0].mime });

    const none = await missingBlobs(s, session);
    expect(none.body).toEqual({ uploadSessionId: session.id, missing: [], missingBytes: 0 });

    const open = await s.request('GET', `/v1/upload-sessions/${session.id}`);
    expect(open.status).toBe(200);
    expect(open.body.uploadSession).toMatchObject({ id: session.id, status: 'open', requestedBlobCount: 3, uploadedBlobCount: 3, committedAt: null, deployVersionId: null });

    const committed = await commit(s, session, { aliases: ['preview', 'staging'] });
    expect(committed.status).toBe(201);
    const dv = committed.body.deployVersion;
    expect(dv).toMatchObject({ id: expect.stringMatching(/^dv_/), deployId: us.deployId, fileCount: 4, bytes: us.requestedBytes, uploadSessionId: session.id });
    expect(committed.body.uploadSession).toMatchObject({ id: session.id, status: 'committed', deployVersionId: dv.id, committedAt: expect.any(Number) });

    const got = await s.request('GET', `/v1/upload-sessions/${session.id}`);
    expect(got.body.uploadSession).toMatchObject({
      status: 'committed', requestedFileCount: 4, requestedBlobCount: 3, uploadedBlobCount: 3,
      uploadedBytes: distinct.reduce((n, h) => n + m.find((f) => f.sha256 === h)!.size, 0), deployVersionId: dv.id,
    });

    const aliases = await s.request('GET', `/v1/deploys/${us.deployId}/aliases`);
    expect(aliases.body.items.map((a: any) => [a.name, a.deployVersionId]).sort()).toEqual([['preview', dv.id], ['staging', dv.id]]);
    const latest = await s.request('GET', `/v1/deploys/${us.deployId}`);
    expect(latest.body.deploy.latestVersionId).toBe(dv.id);

    const listed = await s.request('GET', `/v1/deploys/${us.deployId}/versions/${dv.id}/files?limit=100`);
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([...m].sort((a, b) => (a.path < b.path ? -1 : 1)));

    // an unchanged re-upload to the same deploy needs nothing
    const second = await createSession(s, { deployId: us.deployId }, files);
    expect(second.body.uploadSession).toMatchObject({ status: 'open', requestedFileCount: 4 });
    const nothing = await missingBlobs(s, second);
    expect(nothing.body).toEqual({ uploadSessionId: second.id, missing: [], missingBytes: 0 });
    const c2 = await commit(s, second);
    expect(c2.status).toBe(201);
    expect(c2.body.deployVersion.id).not.toBe(dv.id);
  });

  it('create with deployId → 201 with the documented session shape', async () => {
    const deployId = await newDeploy(s);
    const files = uniqueFiles(2);
    const res = await s.request('POST', '/v1/upload-sessions', { json: { deployId, files: manifest(files) } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      uploadSession: expect.objectContaining({
        id: expect.stringMatching(/^us_/), deployId, status: 'open', requestedFileCount: 2,
        requestedBytes: manifest(files).reduce((n, f) => n + f.size, 0), createdAt: s.clock.now(), expiresAt: s.clock.now() + HOUR,
      }),
      uploadToken: expect.stringMatching(/^ustk_/),
    });
  });

  it('accepts a file of exactly 10 MB (streamed past the 1 MB JSON body limit)', async () => {
    const big = Buffer.alloc(10_000_000, 7);
    big.write(Math.random().toString(36));
    const session = await createSession(s, { deployId: await newDeploy(s) }, [{ path: 'big.bin', content: big, mime: 'application/octet-stream' }]);
    const put = await putBlob(s, session, sha(big), big);
    expect(put.status).toBe(200);
    expect(put.body.blob.size).toBe(10_000_000);
    expect(blobOnDisk(s, sha(big))).toBe(true);
    expect((await commit(s, session)).status).toBe(201);
  });

  it('presence is per account: a blob account A uploaded is still missing for B, and B must upload it', async () => {
    const b = await s.newAccount('flow-b');
    const files = uniqueFiles(1, 'shared');
    const h = manifest(files)[0].sha256;
    await deploy(s, { createDeploy: { slug: uniqueSlug(), name: 'A' } }, files);
    expect(blobOnDisk(s, h)).toBe(true);

    const sb = await createSession(s, { createDeploy: { slug: uniqueSlug(), name: 'B' } }, files, b.keys.editor);
    const missing = await missingBlobs(s, sb, { key: b.keys.editor });
    expect(missing.body).toEqual({ uploadSessionId: sb.id, missing: [h], missingBytes: manifest(files)[0].size });
    const incomplete = await commit(s, sb, { key: b.keys.editor });
    expectError(incomplete, 409, 'upload_session_incomplete');

    // B cannot claim the blob with wrong bytes, and A's copy stays intact
    const wrong = Buffer.from(files[0].content as string);
    wrong[0] ^= 1;
    expectError(await putBlob(s, sb, h, wrong, { key: b.keys.editor }), 400, 'upload_blob_hash_mismatch');
    expect(readFileSync(blobFile(s, h)).toString()).toBe(files[0].content);

    const put = await putBlob(s, sb, h, Buffer.from(files[0].content), { key: b.keys.editor });
    expect(put.status).toBe(200);
    expect(put.body.alreadyPresent).toBe(false);
    expect((await commit(s, sb, { key: b.keys.editor })).status).toBe(201);
  });

  it('account B cannot see or use account A\'s session (404 upload_session_not_found)', async () => {
    const b = await s.newAccount('flow-c');
    const sa = await createSession(s, { deployId: await newDeploy(s) }, uniqueFiles(1));
    expectError(await s.request('GET', `/v1/upload-sessions/${sa.id}`, { key: b.keys.admin }), 404, 'upload_session_not_found');
    expectError(await missingBlobs(s, sa, { key: b.keys.admin }), 404, 'upload_session_not_found');
    expectError(await putBlob(s, sa, sa.manifest[0].sha256, Buffer.from(sa.files[0].content), { key: b.keys.admin }), 404, 'upload_session_not_found');
    expectError(await commit(s, sa, { key: b.keys.admin }), 404, 'upload_session_not_found');
    expectError(await s.request('GET', '/v1/upload-sessions/us_00000000000000000000000000'), 404, 'upload_session_not_found');
    // and A's deploy is not B's
    const res = await s.request('POST', '/v1/upload-sessions', { key: b.keys.admin, json: { deployId: sa.deployId, files: sa.manifest } });
    expectError(res, 404, 'deploy_not_found');
  });

  it('unknown deployId → 404 deploy_not_found; inline slug conflict → 409 deploy_slug_conflict', async () => {
    const files = manifest(uniqueFiles(1));
    expectError(await s.request('POST', '/v1/upload-sessions', { json: { deployId: 'dpl_00000000000000000000000000', files } }), 404, 'deploy_not_found');
    const slug = uniqueSlug();
    expect((await s.request('POST', '/v1/deploys', { json: { slug, name: 'x' } })).status).toBe(201);
    expectError(await s.request('POST', '/v1/upload-sessions', { json: { createDeploy: { slug, name: 'y' }, files } }), 409, 'deploy_slug_conflict');
  });

  it('a deleted deploy: new sessions → 404, its open sessions can no longer be used', async () => {
    const deployId = await newDeploy(s);
    const session = await createSession(s, { deployId }, uniqueFiles(1));
    expect((await s.request('DELETE', `/v1/deploys/${deployId}`)).status).toBe(204);
    expectError(await s.request('POST', '/v1/upload-sessions', { json: { deployId, files: session.manifest } }), 404, 'deploy_not_found');
    // deleting a deploy ends its open sessions
    expectError(await putBlob(s, session, session.manifest[0].sha256, Buffer.from(session.files[0].content)), 410, 'upload_session_expired');
    expectError(await commit(s, session), 410, 'upload_session_expired');
    expect((await s.request('GET', `/v1/upload-sessions/${session.id}`)).body.uploadSession.status).toBe('expired');
  });

  it('roles: viewers cannot upload; production alias on commit needs admin; invalid alias names → 400', async () => {
    const acct = await s.newAccount('flow-roles');
    const files = manifest(uniqueFiles(1));
    const deployId = await newDeploy(s, acct.keys.editor);
    expectError(await s.request('POST', '/v1/upload-sessions', { key: acct.keys.viewer, json: { deployId, files } }), 403, 'insufficient_permission');

    const session = await createSession(s, { deployId }, uniqueFiles(1), acct.keys.editor);
    expect((await s.request('GET', `/v1/upload-sessions/${session.id}`, { key: acct.keys.viewer })).status).toBe(200);
    expectError(await missingBlobs(s, session, { key: acct.keys.viewer }), 403, 'insufficient_permission');
    await uploadAll(s, session, acct.keys.editor);
    expectError(await commit(s, session, { key: acct.keys.editor, aliases: ['production'] }), 403, 'insufficient_permission');
    expectError(await commit(s, session, { key: acct.keys.editor, aliases: ['latest'] }), 400, 'invalid_input');
    expectError(await commit(s, session, { key: acct.keys.editor, aliases: ['Not An Alias'] }), 400, 'invalid_input');
    // none of that consumed the session
    const ok = await commit(s, session, { key: acct.keys.admin, aliases: ['production'] });
    expect(ok.status).toBe(201);
  });

  it('Idempotency-Key on create replays the first session instead of creating a second', async () => {
    const deployId = await newDeploy(s);
    const files = manifest(uniqueFiles(1));
    const headers = { 'idempotency-key': `idem-${uniqueSlug()}` };
    const a = await s.request('POST', '/v1/upload-sessions', { json: { deployId, files }, headers });
    const b = await s.request('POST', '/v1/upload-sessions', { json: { deployId, files }, headers });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(b.body).toEqual(a.body);
  });
});

describe('upload tokens', () => {
  it('missing X-Upload-Token → 403 upload_token_missing on missing-blobs, PUT and commit', async () => {
    const session = await createSession(s, { deployId: await newDeploy(s) }, uniqueFiles(1));
    const h = session.manifest[0].sha256;
    expectError(await missingBlobs(s, session, { token: null }), 403, 'upload_token_missing');
    expectError(await putBlob(s, session, h, Buffer.from(session.files[0].content), { token: null }), 403, 'upload_token_missing');
    expectError(await commit(s, session, { token: null }), 403, 'upload_token_missing');
    expectError(await missingBlobs(s, session, { token: '' }), 403, 'upload_token_missing');
    expect(blobOnDisk(s, h)).toBe(false);
  });

  it('wrong token, or the token of another session of the same account → 403 upload_token_invalid', async () => {
    const deployId = await newDeploy(s);
    const session = await createSession(s, { deployId }, uniqueFiles(1));
    const other = await createSession(s, { deployId }, uniqueFiles(1));
    const h = session.manifest[0].sha256;
    const body = Buffer.from(session.files[0].content);
    for (const token of ['ustk_wrong', other.token, 'garbage', session.token + 'x']) {
      expectError(await missingBlobs(s, session, { token }), 403, 'upload_token_invalid');
      expectError(await putBlob(s, session, h, body, { token }), 403, 'upload_token_invalid');
      expectError(await commit(s, session, { token }), 403, 'upload_token_invalid');
    }
    expect(blobOnDisk(s, h)).toBe(false);
    // the right token still works
    expect((await missingBlobs(s, session)).status).toBe(200);
  });

  it('no API key → 401 even with a valid upload token', async () => {
    const session = await createSession(s, { deployId: await newDeploy(s) }, uniqueFiles(1));
    expectError(await missingBlobs(s, session, { key: null }), 401, 'missing_authorization');
  });
});
