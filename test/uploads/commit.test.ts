import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billPeriod } from '../../src/domain/policy.js';
import type { TestServer } from '../helpers/server.js';
import {
  blobOnDisk, commit, createSession, expectError, missingBlobs, newDeploy, putBlob, uniqueFiles, uploadAll, startUploadServer,
} from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startUploadServer();
});
afterAll(async () => s.stop());

const HOUR = 3600_000;
const LOCK = 5 * 60_000;

async function versionCount(deployId: string, key?: string): Promise<number> {
  const res = await s.request('GET', `/v1/deploys/${deployId}/versions?limit=100`, { key });
  expect(res.status).toBe(200);
  return res.body.items.length;
}

async function commitsUsed(accountId: string): Promise<number> {
  return s.deps.db.usage.periodTotal(accountId, 'deploy_commits', billPeriod(s.clock.now()).start);
}

describe('commit', () => {
  it('with blobs missing → 409 upload_session_incomplete saying how many; the session stays usable', async () => {
    const session = await createSession(s, { deployId: await newDeploy(s) }, uniqueFiles(3));
    let res = await commit(s, session);
    expectError(res, 409, 'upload_session_incomplete');
    expect(res.body.message).toMatch(/\b3 blob/);
    await putBlob(s, session, session.manifest[0].sha256, Buffer.from(session.files[0].content));
    const progress = await s.request('GET', `/v1/upload-sessions/${session.id}`);
    expect(progress.body.uploadSession).toMatchObject({
      status: 'open', requestedFileCount: 3, requestedBlobCount: 3, uploadedBlobCount: 1, uploadedBytes: session.manifest[0].size,
    });
    const left = await missingBlobs(s, session);
    expect(left.body.missing.sort()).toEqual(session.manifest.slice(1).map((f) => f.sha256).sort());
    expect(left.body.missingBytes).toBe(session.manifest[1].size + session.manifest[2].size);
    res = await commit(s, session);
    expectError(res, 409, 'upload_session_incomplete');
    expect(res.body.message).toMatch(/\b2 blob/);
    await uploadAll(s, session);
    expect((await commit(s, session)).status).toBe(201);
  });

  it('a second commit → 409 upload_session_not_open; PUT and missing-blobs after commit → 409 upload_session_not_open', async () => {
    const session = await createSession(s, { deployId: await newDeploy(s) }, uniqueFiles(2));
    await uploadAll(s, session);
    const first = await commit(s, session);
    expect(first.status).toBe(201);
    const second = await commit(s, session);
    expectError(second, 409, 'upload_session_not_open');
    expect(second.body.message).toContain(first.body.deployVersion.id);
    expectError(await missingBlobs(s, session), 409, 'upload_session_not_open');
    expectError(await putBlob(s, session, session.manifest[0].sha256, Buffer.from(session.files[0].content)), 409, 'upload_session_not_open');
    expect(await versionCount(session.deployId)).toBe(1);
  });

  it('5 concurrent commits → exactly one 201, the others 409; exactly one version and one usage record', async () => {
    const acct = await s.newAccount('commit-race');
    const deployId = await newDeploy(s, acct.keys.editor);
    const session = await createSession(s, { deployId }, uniqueFiles(20), acct.keys.editor);
    await uploadAll(s, session, acct.keys.editor);
    const results = await Promise.all(Array.from({ length: 5 }, () => commit(s, session, { key: acct.keys.editor, aliases: ['preview'] })));
    const ok = results.filter((r) => r.status === 201);
    expect(ok).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 201)) {
      expect(r.status).toBe(409);
      expect(['upload_session_commit_in_progress', 'upload_session_not_open']).toContain(r.body.error);
      expectError(r, 409, r.body.error);
    }
    expect(await versionCount(deployId, acct.keys.editor)).toBe(1);
    expect(await commitsUsed(acct.accountId)).toBe(1);
    const alias = await s.request('GET', `/v1/deploys/${deployId}/aliases`, { key: acct.keys.editor });
    expect(alias.body.items).toEqual([expect.objectContaining({ name: 'preview', deployVersionId: ok[0].body.deployVersion.id })]);
  });

  it('a held commit lock → 409 upload_session_commit_in_progress until it lapses after 5 min', async () => {
    const session = await createSession(s, { deployId: await newDeploy(s) }, uniqueFiles(2));
    await uploadAll(s, session);
    const now = s.clock.now();
    expect(await s.deps.db.uploads.tryLockCommit(session.id, now, now + LOCK)).toBe(true);
    expectError(await commit(s, session), 409, 'upload_session_commit_in_progress');
    s.clock.advance(LOCK - 1);
    expectError(await commit(s, session), 409, 'upload_session_commit_in_progress');
    s.clock.advance(2);
    const res = await commit(s, session);
    expect(res.status).toBe(201);
    expect(res.body.uploadSession.status).toBe('committed');
  });

  it('a failed commit (incomplete) releases its lock at once', async () => {
    const session = await createSession(s, { deployId: await newDeploy(s) }, uniqueFiles(1));
    expectError(await commit(s, session), 409, 'upload_session_incomplete');
    await uploadAll(s, session);
    expect((await commit(s, session)).status).toBe(201);
  });

  it('commit with no body, an empty JSON body, {} or unknown fields works; a malformed known field → 400 invalid_input', async () => {
    for (const variant of ['none', 'empty', 'object'] as const) {
      const session = await createSession(s, { deployId: await newDeploy(s) }, uniqueFiles(1));
      await uploadAll(s, session);
      const headers: Record<string, string> = { 'x-upload-token': session.token };
      if (variant !== 'none') headers['content-type'] = 'application/json';
      const bad = await s.request('POST', `/v1/upload-sessions/${session.id}/commit`, { json: { aliases: 'preview' }, headers });
      expectError(bad, 400, 'invalid_input');
      const res = await s.request('POST', `/v1/upload-sessions/${session.id}/commit`, {
        headers, ...(variant === 'empty' ? { body: '' } : variant === 'object' ? { body: '{"alias":["x"],"message":"from a newer client"}' } : {}),
      });
      expect(res.status, variant).toBe(201);
    }
  });
});

describe('expiry (injected clock)', () => {
  it('a session that expires while its commit runs → 410 upload_session_expired (not "committed")', async () => {
    const session = await createSession(s, { deployId: await newDeploy(s) }, uniqueFiles(1));
    await uploadAll(s, session);
    // the commit's transaction (the version, its aliases and their audit entries) is the commit's last step
    const db = s.deps.db;
    const real = db.transaction;
    db.transaction = (async (fn: Parameters<typeof real>[0]) => {
      db.transaction = real;
      await db.uploads.expire(s.clock.now() + 2 * HOUR); // the sweep gets there first
      return db.transaction(fn);
    }) as typeof real;
    try {
      expectError(await commit(s, session), 410, 'upload_session_expired');
    } finally {
      db.transaction = real;
    }
    expect(await versionCount(session.deployId)).toBe(0);
    expect((await s.request('GET', `/v1/upload-sessions/${session.id}`)).body.uploadSession.status).toBe('expired');
  });

  it('after 1 h: missing-blobs, PUT and commit → 410 upload_session_expired; GET shows expired; the sweep persists it', async () => {
    const session = await createSession(s, { deployId: await newDeploy(s) }, uniqueFiles(2));
    const h = session.manifest[0].sha256;
    await putBlob(s, session, h, Buffer.from(session.files[0].content));
    // one ms before expiry it still works
    s.clock.advance(HOUR - 1);
    expect((await missingBlobs(s, session)).status).toBe(200);
    s.clock.advance(2);

    const m = await missingBlobs(s, session);
    expectError(m, 410, 'upload_session_expired');
    const h2 = session.manifest[1].sha256;
    expectError(await putBlob(s, session, h2, Buffer.from(session.files[1].content)), 410, 'upload_session_expired');
    expect(blobOnDisk(s, h2)).toBe(false);
    expectError(await commit(s, session), 410, 'upload_session_expired');
    // token errors still come first
    expectError(await commit(s, session, { token: null }), 403, 'upload_token_missing');
    expectError(await commit(s, session, { token: 'ustk_nope' }), 403, 'upload_token_invalid');

    const got = await s.request('GET', `/v1/upload-sessions/${session.id}`);
    expect(got.status).toBe(200);
    expect(got.body.uploadSession).toMatchObject({ id: session.id, status: 'expired', committedAt: null, deployVersionId: null });

    const accountId = (await s.deps.db.accounts.getByName('default'))!.id;
    expect((await s.deps.db.uploads.get(accountId, session.id))?.status).toBe('open');
    await s.sweep();
    const row = await s.deps.db.uploads.get(accountId, session.id);
    expect(row?.status).toBe('expired');
    expectError(await commit(s, session), 410, 'upload_session_expired');
    expect(await versionCount(session.deployId)).toBe(0);
  });

  it('an expired session cannot be committed even if its lock was taken before expiry', async () => {
    const session = await createSession(s, { deployId: await newDeploy(s) }, uniqueFiles(1));
    await uploadAll(s, session);
    s.clock.advance(HOUR - 1000);
    const now = s.clock.now();
    expect(await s.deps.db.uploads.tryLockCommit(session.id, now, now + LOCK)).toBe(true);
    s.clock.advance(1000);
    expectError(await commit(s, session), 410, 'upload_session_expired');
    s.clock.advance(LOCK);
    expectError(await commit(s, session), 410, 'upload_session_expired');
    expect(await versionCount(session.deployId)).toBe(0);
  });
});
