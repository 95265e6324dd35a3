/** Contract of the metadata store's `uploads` and `blobs` ports, on the SQLite adapter (in memory, no server). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore, openSqlite } from '../../src/adapters/sqlite/sqlite-store.js';
import { ConflictError } from '../../src/domain/errors.js';
import { newId } from '../../src/domain/ids.js';
import type { DeployVersionRecord, FileEntry, UploadSessionRecord } from '../../src/ports/metadata-store.js';

let store: SqliteStore;
const T0 = Date.UTC(2026, 0, 15, 12);
const H = (c: string) => c.repeat(64);

beforeEach(() => {
  store = new SqliteStore(openSqlite(':memory:'));
});
afterEach(async () => store.close());

async function account(name = `a-${Math.random()}`) {
  const id = newId('acct', T0);
  await store.accounts.create({ id, name, planKey: 'unlimited', webhookSigningSecret: 'x', createdAt: T0 });
  return id;
}
async function deploy(accountId: string) {
  const id = newId('dpl', T0);
  await store.deploys.create({
    id, accountId, slug: `s${Math.random().toString(36).slice(2, 8)}`, name: 'd', createdAt: T0, deletedAt: null,
    webhookEnabled: false, webhookUrl: null, webhookSigningSecret: null,
  });
  return id;
}
async function session(accountId: string, deployId: string, files: FileEntry[], at = T0): Promise<UploadSessionRecord> {
  const s: UploadSessionRecord = {
    id: newId('us', at), accountId, deployId, status: 'open', uploadTokenHash: 'h', requestedFileCount: files.length,
    requestedBytes: files.reduce((n, f) => n + f.size, 0), createdAt: at, expiresAt: at + 3600_000, committedAt: null,
    commitLockUntil: null, deployVersionId: null,
  };
  await store.uploads.create(s, files);
  return s;
}
function version(s: UploadSessionRecord, at = T0): DeployVersionRecord {
  return { id: newId('dv', at), accountId: s.accountId, deployId: s.deployId, fileCount: s.requestedFileCount, bytes: s.requestedBytes, uploadSessionId: s.id, createdAt: at };
}
const f = (path: string, c: string, size = 10): FileEntry => ({ path, sha256: H(c), size, mime: 'text/plain' });

describe('SqliteStore uploads + blobs', () => {
  it('create/get/files; get is scoped to the account', async () => {
    const a = await account();
    const b = await account();
    const s = await session(a, await deploy(a), [f('b.txt', 'b'), f('a.txt', 'a')]);
    expect(await store.uploads.get(a, s.id)).toEqual(s);
    expect(await store.uploads.get(b, s.id)).toBeNull();
    expect((await store.uploads.files(s.id)).map((x) => x.path)).toEqual(['a.txt', 'b.txt']);
  });

  it('missingBlobs / presentBlobStats are per account and count each distinct hash once', async () => {
    const a = await account();
    const b = await account();
    const s = await session(a, await deploy(a), [f('1', 'a', 5), f('2', 'a', 5), f('3', 'b', 7), f('4', 'c', 9)]);
    expect(await store.uploads.missingBlobs(a, s.id)).toEqual([{ sha256: H('a'), size: 5 }, { sha256: H('b'), size: 7 }, { sha256: H('c'), size: 9 }]);
    await store.blobs.recordAccountBlob(b, H('a'), 5, T0); // another account's holding does not count
    await store.blobs.recordAccountBlob(a, H('b'), 7, T0);
    await store.blobs.recordAccountBlob(a, H('b'), 7, T0); // idempotent
    expect((await store.uploads.missingBlobs(a, s.id)).map((m) => m.sha256)).toEqual([H('a'), H('c')]);
    expect(await store.uploads.presentBlobStats(a, s.id)).toEqual({ count: 1, bytes: 7 });
    expect(await store.blobs.hasAccountBlob(a, H('b'))).toBe(true);
    expect(await store.blobs.hasAccountBlob(a, H('a'))).toBe(false);
    expect(await store.blobs.accountBlobBytes(a)).toBe(7);
    expect(await store.blobs.isHeld(H('a'))).toBe(true);
    expect(await store.blobs.isHeld(H('c'))).toBe(false);
  });

  it('tryLockCommit is a CAS: one winner, lapses at `until`, never on a non-open session', async () => {
    const a = await account();
    const s = await session(a, await deploy(a), [f('x', 'x')]);
    const results = await Promise.all([1, 2, 3].map(() => store.uploads.tryLockCommit(s.id, T0, T0 + 300_000)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.uploads.tryLockCommit(s.id, T0 + 299_999, T0 + 600_000)).toBe(false);
    expect(await store.uploads.tryLockCommit(s.id, T0 + 300_000, T0 + 600_000)).toBe(true);
    await store.uploads.releaseCommitLock(s.id);
    expect(await store.uploads.tryLockCommit(s.id, T0, T0 + 1)).toBe(true);
    await store.uploads.expire(T0 + 3600_000);
    await store.uploads.releaseCommitLock(s.id);
    expect(await store.uploads.tryLockCommit(s.id, T0, T0 + 1)).toBe(false);
  });

  it('commit is atomic and happens once: version + files + aliases + usage; a second commit → ConflictError, no trace', async () => {
    const a = await account();
    const d = await deploy(a);
    const s = await session(a, d, [f('index.html', 'i'), f('x/y.css', 'c')]);
    const v = version(s);
    await store.uploads.commit({ session: s, version: v, aliases: ['preview'], now: T0 + 5 });
    expect(await store.uploads.get(a, s.id)).toMatchObject({ status: 'committed', committedAt: T0 + 5, deployVersionId: v.id, commitLockUntil: null });
    expect(await store.versions.get(d, v.id)).toEqual(v);
    expect(await store.versions.listFiles(v.id, { limit: 10 })).toEqual(await store.uploads.files(s.id));
    expect(await store.aliases.get(d, 'preview')).toMatchObject({ deployVersionId: v.id });
    expect(await store.usage.total(a, 'deploy_commits', 0, T0 + 10)).toBe(1);

    const v2 = version(s);
    await expect(store.uploads.commit({ session: s, version: v2, aliases: ['other'], now: T0 + 6 })).rejects.toBeInstanceOf(ConflictError);
    expect(await store.versions.get(d, v2.id)).toBeNull();
    expect(await store.aliases.get(d, 'other')).toBeNull();
    expect(await store.usage.total(a, 'deploy_commits', 0, T0 + 10)).toBe(1);
  });

  it('expire marks only open sessions at or past expiresAt', async () => {
    const a = await account();
    const d = await deploy(a);
    const early = await session(a, d, [f('x', 'x')], T0);
    const late = await session(a, d, [f('x', 'x')], T0 + 10);
    const done = await session(a, d, [f('x', 'x')], T0);
    await store.uploads.commit({ session: done, version: version(done), aliases: [], now: T0 });
    expect(await store.uploads.expire(T0 + 3600_000 - 1)).toBe(0);
    expect(await store.uploads.expire(T0 + 3600_000)).toBe(1);
    expect((await store.uploads.get(a, early.id))!.status).toBe('expired');
    expect((await store.uploads.get(a, late.id))!.status).toBe('open');
    expect((await store.uploads.get(a, done.id))!.status).toBe('committed');
  });

  it('dropUnreferencedAccountBlobs keeps holdings a live version or an open session of the same account references', async () => {
    const a = await account();
    const b = await account();
    const d = await deploy(a);
    // a: 'v' in a committed version, 'o' in an open session, 'e' only in an expired session, 'z' in nothing
    const committed = await session(a, d, [f('v', 'v')]);
    await store.uploads.commit({ session: committed, version: version(committed), aliases: [], now: T0 });
    await session(a, d, [f('o', 'o')], T0 + 10);
    const expired = await session(a, d, [f('e', 'e')], T0 - 3600_000);
    await store.uploads.expire(T0);
    expect((await store.uploads.get(a, expired.id))!.status).toBe('expired');
    for (const c of ['v', 'o', 'e', 'z']) await store.blobs.recordAccountBlob(a, H(c), 10, T0);
    // b holds 'v' and 'o' too, but references nothing: b's holdings go, a's stay
    await store.blobs.recordAccountBlob(b, H('v'), 10, T0);
    await store.blobs.recordAccountBlob(b, H('o'), 10, T0);

    expect(await store.blobs.dropUnreferencedAccountBlobs()).toBe(4);
    expect(await store.blobs.hasAccountBlob(a, H('v'))).toBe(true);
    expect(await store.blobs.hasAccountBlob(a, H('o'))).toBe(true);
    expect(await store.blobs.hasAccountBlob(a, H('e'))).toBe(false);
    expect(await store.blobs.hasAccountBlob(a, H('z'))).toBe(false);
    expect(await store.blobs.hasAccountBlob(b, H('v'))).toBe(false);
    expect(await store.blobs.isHeld(H('v'))).toBe(true);
    expect(await store.blobs.isHeld(H('e'))).toBe(false);

    // deleting the deploy ends its open sessions and unpins its versions
    await store.deploys.markDeleted(a, d, T0 + 20);
    expect(await store.blobs.dropUnreferencedAccountBlobs()).toBe(2);
    expect(await store.blobs.isHeld(H('v'))).toBe(false);
    expect(await store.blobs.isHeld(H('o'))).toBe(false);
  });
});
