import { utimesSync } from 'node:fs';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobKey } from '../../src/domain/uploads.js';
import type { TestServer } from '../helpers/server.js';
import { blobFile, blobOnDisk, createSession, deploy, missingBlobs, newDeploy, putBlob, sha, uniqueFiles, uniqueSlug, startUploadServer } from './support.js';

/*
 * `s.sweep()` expires sessions and collects garbage with a 1 h grace on file age. File mtimes are real time, so the
 * tests move the injected clock relative to Date.now(): `later()` puts it 2 h ahead, where every file written
 * during the test is past the grace period.
 */
let s: TestServer;
let defaultAccountId: string;
beforeAll(async () => {
  s = await startUploadServer();
  defaultAccountId = (await s.deps.db.accounts.getByName('default'))!.id;
});
afterAll(async () => s.stop());

const MIN = 60_000;
const HOUR = 60 * MIN;
const now = () => s.clock.set(Date.now());
const later = (ms = 2 * HOUR) => s.clock.set(Date.now() + ms);

const holds = (accountId: string, h: string) => s.deps.db.blobs.hasAccountBlob(accountId, h);

describe('garbage collection', () => {
  it('a blob uploaded to a session that expired, referenced by nothing else, is deleted from disk', async () => {
    now();
    const files = uniqueFiles(2, 'expired');
    const session = await createSession(s, { deployId: await newDeploy(s) }, files);
    const [a, b] = session.manifest.map((f) => f.sha256);
    expect((await putBlob(s, session, a, Buffer.from(files[0].content))).status).toBe(200);
    expect(blobOnDisk(s, a)).toBe(true);

    later();
    await s.sweep();
    expect(blobOnDisk(s, a)).toBe(false);
    expect(blobOnDisk(s, b)).toBe(false);
    expect(await holds(defaultAccountId, a)).toBe(false);
    expect((await s.request('GET', `/v1/upload-sessions/${session.id}`)).body.uploadSession.status).toBe('expired');

    // the account no longer claims it: a new session lists it as missing again
    const again = await createSession(s, { deployId: session.deployId }, files);
    expect((await missingBlobs(s, again)).body.missing.sort()).toEqual([a, b].sort());
  });

  it('a blob referenced by a committed version is never deleted (nor released), however late the sweep', async () => {
    now();
    const files = uniqueFiles(2, 'committed');
    const { session, deployId } = await deploy(s, { createDeploy: { slug: uniqueSlug(), name: 'gc' } }, files);
    const hashes = session.manifest.map((f) => f.sha256);
    for (const when of [2 * HOUR, 40 * 24 * HOUR]) {
      later(when);
      await s.sweep();
      for (const h of hashes) {
        expect(blobOnDisk(s, h)).toBe(true);
        expect(await holds(defaultAccountId, h)).toBe(true);
      }
    }
    // and a later unchanged upload still needs nothing
    const next = await createSession(s, { deployId }, files);
    expect((await missingBlobs(s, next)).body).toMatchObject({ missing: [], missingBytes: 0 });
  });

  it('a blob referenced by an open session of the account is kept until the session expires', async () => {
    later(); // the session is created "2 h from now", so it is open at the sweep while its file is past the grace
    const files = uniqueFiles(1, 'open');
    const session = await createSession(s, { deployId: await newDeploy(s) }, files);
    const h = session.manifest[0].sha256;
    expect((await putBlob(s, session, h, Buffer.from(files[0].content))).status).toBe(200);
    await s.sweep();
    expect(blobOnDisk(s, h)).toBe(true);
    expect(await holds(defaultAccountId, h)).toBe(true);
    expect((await missingBlobs(s, session)).body.missing).toEqual([]);

    s.clock.advance(HOUR + 1);
    await s.sweep();
    expect(blobOnDisk(s, h)).toBe(false);
  });

  it('a blob still held by account B is kept when account A\'s reference goes; collected once B\'s goes too', async () => {
    now();
    const b = await s.newAccount('gc-b');
    const files = uniqueFiles(1, 'shared');
    const h = sha(Buffer.from(files[0].content));
    const sa = await createSession(s, { deployId: await newDeploy(s) }, files);
    expect((await putBlob(s, sa, h, Buffer.from(files[0].content))).status).toBe(200);
    const { deployId: bDeploy } = await deploy(s, { createDeploy: { slug: uniqueSlug(), name: 'b' } }, files, b.keys.editor);

    later();
    await s.sweep();
    expect(await holds(defaultAccountId, h)).toBe(false); // A's session expired: A's holding is released
    expect(await holds(b.accountId, h)).toBe(true);
    expect(blobOnDisk(s, h)).toBe(true);

    expect((await s.request('DELETE', `/v1/deploys/${bDeploy}`, { key: b.keys.editor })).status).toBe(204);
    await s.sweep();
    expect(await holds(b.accountId, h)).toBe(false);
    expect(blobOnDisk(s, h)).toBe(false);
  });

  it('blobs of a deleted deploy\'s versions are collected; blobs another live deploy of the account uses are kept', async () => {
    now();
    const only = uniqueFiles(2, 'only');
    const common = uniqueFiles(1, 'common');
    const doomed = await deploy(s, { createDeploy: { slug: uniqueSlug(), name: 'doomed' } }, [...only, ...common]);
    // a second version of the same deploy
    const doomed2 = await deploy(s, { deployId: doomed.deployId }, only.slice(0, 1));
    await deploy(s, { createDeploy: { slug: uniqueSlug(), name: 'keeper' } }, common);
    const onlyHashes = doomed.session.manifest.filter((f) => f.path.startsWith('only/')).map((f) => f.sha256);
    const commonHash = sha(Buffer.from(common[0].content));
    expect(doomed2.version.id).not.toBe(doomed.version.id);

    later();
    await s.sweep();
    for (const h of [...onlyHashes, commonHash]) expect(blobOnDisk(s, h)).toBe(true);

    expect((await s.request('DELETE', `/v1/deploys/${doomed.deployId}`)).status).toBe(204);
    await s.sweep();
    for (const h of onlyHashes) expect(blobOnDisk(s, h)).toBe(false);
    expect(blobOnDisk(s, commonHash)).toBe(true);
  });

  it('a fresh blob file (mtime within the grace period) is never deleted, even unreferenced', async () => {
    // written straight to storage, held by nobody (e.g. an upload that has not recorded its holding yet)
    const bytes = Buffer.from(`orphan ${Math.random()}`);
    const h = sha(bytes);
    await s.deps.blobs.put(blobKey(h), Readable.from([bytes]), { expectedSha256: h });
    now();
    await s.sweep();
    expect(blobOnDisk(s, h)).toBe(true);
    later(HOUR - MIN); // still inside the grace
    await s.sweep();
    expect(blobOnDisk(s, h)).toBe(true);
    later();
    await s.sweep();
    expect(blobOnDisk(s, h)).toBe(false);
  });

  it('a blob of a just-expired session survives while its file is fresh, and goes once past the grace', async () => {
    s.clock.set(Date.now() - 30 * MIN);
    const files = uniqueFiles(1, 'fresh');
    const session = await createSession(s, { deployId: await newDeploy(s) }, files);
    const h = session.manifest[0].sha256;
    expect((await putBlob(s, session, h, Buffer.from(files[0].content))).status).toBe(200);
    later(31 * MIN); // session (created 30 min ago on the clock) is expired; its file is ~0 min old
    await s.sweep();
    expect((await s.request('GET', `/v1/upload-sessions/${session.id}`)).body.uploadSession.status).toBe('expired');
    expect(await holds(defaultAccountId, h)).toBe(false);
    expect(blobOnDisk(s, h)).toBe(true);
    later();
    await s.sweep();
    expect(blobOnDisk(s, h)).toBe(false);
  });

  it('an old orphan file re-uploaded while the GC is deciding about it is not deleted from under the new holder', async () => {
    now();
    const files = uniqueFiles(1, 'race');
    const bytes = Buffer.from(files[0].content);
    const h = sha(bytes);
    // an old copy nobody holds any more (its mtime is 2 h in the past)
    await s.deps.blobs.put(blobKey(h), Readable.from([bytes]), { expectedSha256: h });
    const old = (Date.now() - 2 * HOUR) / 1000;
    utimesSync(blobFile(s, h), old, old);
    const session = await createSession(s, { deployId: await newDeploy(s) }, files);

    // the upload lands between the GC's "is it held?" and its delete
    const blobs = s.deps.db.blobs;
    const isHeld = blobs.isHeld;
    blobs.isHeld = async (sha256: string) => {
      const answer = await isHeld.call(blobs, sha256);
      if (sha256 === h) expect((await putBlob(s, session, h, bytes)).status).toBe(200);
      return answer;
    };
    try {
      await s.sweep();
    } finally {
      blobs.isHeld = isHeld;
    }
    expect(await holds(defaultAccountId, h)).toBe(true);
    expect(blobOnDisk(s, h)).toBe(true);
  });

  it('GC leaves the rest of storage alone (non-blob keys, malformed names)', async () => {
    const other = Buffer.from('not a blob');
    await s.deps.blobs.put('blobs/zz/zz/not-a-sha', Readable.from([other]));
    // (outputs/ and pdfs/ have a sweep of their own: test/render/outputs.test.ts)
    await s.deps.blobs.put('exports/x/y.bin', Readable.from([other]));
    later(10 * HOUR);
    await s.sweep();
    expect(await s.deps.blobs.stat('blobs/zz/zz/not-a-sha')).not.toBeNull();
    expect(await s.deps.blobs.stat('exports/x/y.bin')).not.toBeNull();
  });
});
