import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.js';
import { readFileSync } from 'node:fs';
import { blobFile, blobOnDisk, createSession, expectError, missingBlobs, newDeploy, putBlob, sha, tmpFiles, startUploadServer } from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startUploadServer();
});
afterAll(async () => s.stop());

const MB = 1024 * 1024; // binary, as the docs count (spec §9.2)

/** Nothing of `h` stored: no blob file, no temp file, no account holding (missing-blobs still lists it). */
async function expectNothingStored(session: { id: string; token: string }, h: string) {
  expect(blobOnDisk(s, h)).toBe(false);
  expect(tmpFiles(s)).toEqual([]);
  const missing = await missingBlobs(s, session);
  expect(missing.status).toBe(200);
  expect(missing.body.missing).toContain(h);
}

async function oneFileSession(content: Buffer | string, mime = 'application/octet-stream') {
  return createSession(s, { deployId: await newDeploy(s) }, [{ path: 'f.bin', content, mime }]);
}

describe('PUT /v1/upload-sessions/{id}/blobs/{sha256}', () => {
  it('a body with a different hash (same size) → 400 upload_blob_hash_mismatch, nothing stored', async () => {
    const content = Buffer.from(`hash-mismatch ${Math.random()}`);
    const session = await oneFileSession(content);
    const h = sha(content);
    const other = Buffer.from(content);
    other[other.length - 1] ^= 0xff;
    const res = await putBlob(s, session, h, other);
    expectError(res, 400, 'upload_blob_hash_mismatch');
    expect(res.body.message).toContain(sha(other));
    await expectNothingStored(session, h);
    // the right bytes still go through afterwards
    expect((await putBlob(s, session, h, content)).status).toBe(200);
    expect(blobOnDisk(s, h)).toBe(true);
  });

  it('a shorter body → 400 upload_blob_size_mismatch, nothing stored', async () => {
    const content = Buffer.from(`size-short ${Math.random()}`);
    const session = await oneFileSession(content);
    const h = sha(content);
    expectError(await putBlob(s, session, h, content.subarray(0, content.length - 1)), 400, 'upload_blob_size_mismatch');
    expectError(await putBlob(s, session, h, Buffer.alloc(0)), 400, 'upload_blob_size_mismatch');
    await expectNothingStored(session, h);
  });

  it('a longer body → 400 upload_blob_size_mismatch, nothing stored, the connection stays usable', async () => {
    const content = Buffer.from(`size-long ${Math.random()}`);
    const session = await oneFileSession(content);
    const h = sha(content);
    expectError(await putBlob(s, session, h, Buffer.concat([content, Buffer.from('x')])), 400, 'upload_blob_size_mismatch');
    // much longer (well past socket buffers)
    expectError(await putBlob(s, session, h, Buffer.concat([content, Buffer.alloc(3 * MB, 1)])), 400, 'upload_blob_size_mismatch');
    await expectNothingStored(session, h);
    expect((await putBlob(s, session, h, content)).status).toBe(200);
  });

  it('a body over 10 MiB for an entry claiming 10 MiB → 413 upload_blob_too_large, nothing stored', async () => {
    const content = Buffer.alloc(10 * MB, 3);
    content.write(`too-large ${Math.random()}`);
    const session = await oneFileSession(content);
    const h = sha(content);
    const body = Buffer.concat([content, Buffer.alloc(MB, 4)]);
    expectError(await putBlob(s, session, h, body), 413, 'upload_blob_too_large');
    await expectNothingStored(session, h);
  });

  it('a body over 10 MiB for a small entry is refused by its Content-Length before it is read: 413', async () => {
    const content = Buffer.from(`small ${Math.random()}`);
    const session = await oneFileSession(content);
    const h = sha(content);
    const res = await putBlob(s, session, h, Buffer.alloc(11 * MB, 5));
    expectError(res, 413, 'upload_blob_too_large');
    await expectNothingStored(session, h);
  });

  it('a hash not listed in the manifest → 400 upload_blob_not_in_session', async () => {
    const session = await oneFileSession(`listed ${Math.random()}`);
    const stray = Buffer.from(`stray ${Math.random()}`);
    expectError(await putBlob(s, session, sha(stray), stray), 400, 'upload_blob_not_in_session');
    expect(blobOnDisk(s, sha(stray))).toBe(false);
    expect(tmpFiles(s)).toEqual([]);
  });

  it('JSON (or another) content type instead of application/octet-stream → 400 invalid_input', async () => {
    const content = Buffer.from(`{"json":${Math.random()}}`);
    const session = await oneFileSession(content, 'application/json');
    const h = sha(content);
    expectError(await putBlob(s, session, h, content, { contentType: 'application/json' }), 400, 'invalid_input');
    expectError(await putBlob(s, session, h, content, { contentType: 'text/plain' }), 400, 'invalid_input');
    expectError(await putBlob(s, session, h, content, { contentType: 'image/png' }), 400, 'invalid_input');
    const none = await s.request('PUT', `/v1/upload-sessions/${session.id}/blobs/${h}`, { headers: { 'x-upload-token': session.token } });
    expectError(none, 400, 'invalid_input');
    await expectNothingStored(session, h);
  });

  it('a malformed sha256 in the path → 400, not a 500', async () => {
    const session = await oneFileSession(`x ${Math.random()}`);
    for (const bad of ['A'.repeat(64), 'a'.repeat(63), '..%2F..%2Fetc']) {
      const res = await putBlob(s, session, bad, 'x');
      expect(res.status, bad).toBe(400);
      expect(res.body).toEqual({ error: expect.stringMatching(/^invalid_/), message: expect.any(String) });
    }
  });

  it('application/octet-stream with parameters or in another case is accepted', async () => {
    for (const contentType of ['application/octet-stream; charset=binary', 'Application/Octet-Stream']) {
      const content = Buffer.from(`params ${Math.random()}`);
      const session = await oneFileSession(content);
      const res = await putBlob(s, session, sha(content), content, { contentType });
      expect(res.status, contentType).toBe(200);
    }
  });

  it('an empty file can be uploaded', async () => {
    const session = await oneFileSession(Buffer.alloc(0), 'text/plain');
    const h = sha(Buffer.alloc(0));
    const res = await putBlob(s, session, h, Buffer.alloc(0));
    expect(res.status).toBe(200);
    expect(res.body.blob).toMatchObject({ sha256: h, size: 0, mime: 'text/plain' });
    expect(blobOnDisk(s, h)).toBe(true);
  });

  it('a chunked (streamed, no Content-Length) body works, and an endless one is cut off at 10 MB', async () => {
    const content = Buffer.alloc(3 * MB, 6);
    content.write(`chunked ${Math.random()}`);
    const session = await oneFileSession(content);
    const h = sha(content);
    const stream = (total: number, fill: (i: number) => Buffer) => {
      let sent = 0;
      let i = 0;
      return new ReadableStream<Uint8Array>({
        pull(c) {
          if (sent >= total) return c.close();
          const chunk = fill(i++).subarray(0, Math.min(256 * 1024, total - sent));
          sent += chunk.length;
          c.enqueue(chunk);
        },
      });
    };
    const send = (body: ReadableStream<Uint8Array>) =>
      fetch(`${s.url}/v1/upload-sessions/${session.id}/blobs/${h}`, {
        method: 'PUT', body, duplex: 'half',
        headers: { authorization: `Bearer ${s.adminKey}`, 'x-upload-token': session.token, 'content-type': 'application/octet-stream' },
      } as RequestInit);

    const tooBig = await send(stream(12 * MB, () => Buffer.alloc(256 * 1024, 1)));
    const refused = await tooBig.json();
    expect([tooBig.status, refused.error]).toEqual(refused.error === 'upload_blob_too_large' ? [413, 'upload_blob_too_large'] : [400, 'upload_blob_size_mismatch']);
    await expectNothingStored(session, h);

    const ok = await send(stream(content.length, (i) => content.subarray(i * 256 * 1024)));
    expect(ok.status).toBe(200);
    expect((await ok.json()).blob).toMatchObject({ sha256: h, size: content.length });
    expect(blobOnDisk(s, h)).toBe(true);
  });

  it('concurrent PUTs of the same blob (two sessions of one account) both succeed, content intact', async () => {
    const content = Buffer.alloc(2 * MB, 9);
    content.write(`concurrent ${Math.random()}`);
    const h = sha(content);
    const deployId = await newDeploy(s);
    const a = await createSession(s, { deployId }, [{ path: 'a.bin', content, mime: 'application/octet-stream' }]);
    const b = await createSession(s, { deployId }, [{ path: 'b.bin', content, mime: 'application/octet-stream' }]);
    const results = await Promise.all([putBlob(s, a, h, content), putBlob(s, b, h, content), putBlob(s, a, h, content)]);
    for (const r of results) expect(r.status).toBe(200);
    expect(sha(readFileSync(blobFile(s, h)))).toBe(h);
    expect(tmpFiles(s)).toEqual([]);
    expect((await missingBlobs(s, a)).body.missing).toEqual([]);
  });
});
