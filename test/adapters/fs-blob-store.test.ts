import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore } from '../../src/adapters/fs-blob/fs-blob-store.js';
import { BlobRejectedError } from '../../src/ports/blob-store.js';

let dir: string;
let store: FsBlobStore;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'press-fsblob-'));
  store = new FsBlobStore(join(dir, 'storage'));
  await store.init();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const tmpFiles = () => readdirSync(join(dir, 'storage', 'tmp'));
/** every file anywhere under `dir`, relative */
function allFiles(d = dir, rel = ''): string[] {
  return readdirSync(d, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? allFiles(join(d, e.name), `${rel}${e.name}/`) : [`${rel}${e.name}`]);
}
async function read(r: Readable | null): Promise<Buffer> {
  expect(r).not.toBeNull();
  const chunks: Buffer[] = [];
  for await (const c of r!) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
/** a stream that delivers `buf` in small chunks over several ticks */
function chunked(buf: Buffer, size = 64 * 1024): Readable {
  return Readable.from((function* () {
    for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
  })());
}
async function rejection(p: Promise<unknown>): Promise<BlobRejectedError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(BlobRejectedError);
  return err as BlobRejectedError;
}

describe('FsBlobStore contract', () => {
  it('put → stat → get → list → delete', async () => {
    const body = randomBytes(100_000);
    const res = await store.put('t1/a/b.bin', chunked(body));
    expect(res).toEqual({ sha256: sha(body), size: body.length });
    const st = await store.stat('t1/a/b.bin');
    expect(st).toEqual({ size: body.length, modifiedAt: expect.any(Number) });
    expect(Math.abs(st!.modifiedAt - Date.now())).toBeLessThan(60_000);
    expect((await read(await store.get('t1/a/b.bin'))).equals(body)).toBe(true);

    await store.put('t1/c.txt', Readable.from([Buffer.from('c')]));
    await store.put('t2/d.txt', Readable.from([Buffer.from('d')]));
    const list = async (prefix: string) => {
      const out: string[] = [];
      for await (const e of store.list(prefix)) {
        expect(e.modifiedAt).toEqual(expect.any(Number));
        out.push(e.key);
      }
      return out.sort();
    };
    expect(await list('t1/')).toEqual(['t1/a/b.bin', 't1/c.txt']);
    expect(await list('t1')).toEqual(['t1/a/b.bin', 't1/c.txt']);
    expect(await list('t1/a/')).toEqual(['t1/a/b.bin']);
    expect(await list('nope/')).toEqual([]);
    expect(await list('')).toEqual(expect.arrayContaining(['t1/a/b.bin', 't1/c.txt', 't2/d.txt']));

    await store.delete('t1/a/b.bin');
    expect(await store.stat('t1/a/b.bin')).toBeNull();
    expect(await store.get('t1/a/b.bin')).toBeNull();
    expect(await list('t1/')).toEqual(['t1/c.txt']);
    await store.delete('t1/a/b.bin'); // deleting an absent key is fine
    expect(await store.stat('never/was')).toBeNull();
    expect(await store.get('never/was')).toBeNull();
  });

  it('an empty body is a valid blob', async () => {
    const res = await store.put('t3/empty', Readable.from([]), { expectedSha256: sha(Buffer.alloc(0)), expectedSize: 0 });
    expect(res.size).toBe(0);
    expect((await read(await store.get('t3/empty'))).length).toBe(0);
  });

  it('overwriting a key replaces its bytes atomically', async () => {
    await store.put('t4/k', Readable.from([Buffer.from('first')]));
    await store.put('t4/k', Readable.from([Buffer.from('second version')]));
    expect((await read(await store.get('t4/k'))).toString()).toBe('second version');
  });

  it('range get returns bytes start..end inclusive', async () => {
    const body = Buffer.from('0123456789abcdef');
    await store.put('t5/r', Readable.from([body]));
    expect((await read(await store.get('t5/r', { start: 0, end: 0 }))).toString()).toBe('0');
    expect((await read(await store.get('t5/r', { start: 3, end: 7 }))).toString()).toBe('34567');
    expect((await read(await store.get('t5/r', { start: 10, end: 15 }))).toString()).toBe('abcdef');
    expect((await read(await store.get('t5/r', { start: 10, end: 1000 }))).toString()).toBe('abcdef');
  });

  const badKeys = ['', '..', '../x', 'a/../../x', 'a/..', '/etc/passwd', '/abs/key', 'a\0b', 'a\\b', '..\\x', 'a//b', 'a/', './a', 'a/./b', '.'];
  it.each(badKeys)('rejects key %j on every operation, touching nothing', async (key) => {
    const before = allFiles();
    await expect(store.put(key, Readable.from([Buffer.from('x')]))).rejects.toThrow(/invalid blob key/);
    await expect(store.get(key)).rejects.toThrow(/invalid blob key/);
    await expect(store.stat(key)).rejects.toThrow(/invalid blob key/);
    await expect(store.delete(key)).rejects.toThrow(/invalid blob key/);
    if (key !== '' && key !== 'a/') { // list('') is the whole store and list('a/') the prefix a: both valid
      await expect((async () => {
        for await (const _ of store.list(key)) void _;
      })()).rejects.toThrow(/invalid blob key/);
    }
    expect(allFiles()).toEqual(before);
    expect(existsSync(join(dir, 'x'))).toBe(false);
    expect(existsSync(join(dir, 'storage', 'x'))).toBe(false);
  });

  it('expectedSha256 mismatch → hash_mismatch, no file, no temp file, an existing copy untouched', async () => {
    const good = Buffer.from('the real bytes');
    const bad = Buffer.from('the fake bytes');
    const err = await rejection(store.put('t6/new', Readable.from([bad]), { expectedSha256: sha(good) }));
    expect(err.reason).toBe('hash_mismatch');
    expect(err.actual).toEqual({ sha256: sha(bad), size: bad.length });
    expect(await store.stat('t6/new')).toBeNull();
    expect(tmpFiles()).toEqual([]);

    await store.put('t6/existing', Readable.from([good]), { expectedSha256: sha(good) });
    expect((await rejection(store.put('t6/existing', Readable.from([bad]), { expectedSha256: sha(good) }))).reason).toBe('hash_mismatch');
    expect((await read(await store.get('t6/existing'))).equals(good)).toBe(true);
    expect(tmpFiles()).toEqual([]);
  });

  it('expectedSize: shorter and longer bodies → size_mismatch, nothing stored', async () => {
    const body = randomBytes(300_000);
    const short = await rejection(store.put('t7/s', chunked(body.subarray(0, 299_999)), { expectedSize: body.length }));
    expect(short.reason).toBe('size_mismatch');
    expect(short.actual.size).toBe(299_999);
    const long = await rejection(store.put('t7/s', chunked(Buffer.concat([body, Buffer.from('x')])), { expectedSize: body.length }));
    expect(long.reason).toBe('size_mismatch');
    expect(long.actual.size).toBeGreaterThan(body.length);
    expect(await store.stat('t7/s')).toBeNull();
    expect(tmpFiles()).toEqual([]);
  });

  it('maxBytes → too_large as soon as the limit is passed, nothing stored', async () => {
    const err = await rejection(store.put('t8/big', chunked(randomBytes(1_000_000), 10_000), { maxBytes: 100_000 }));
    expect(err.reason).toBe('too_large');
    expect(err.actual.size).toBeGreaterThan(100_000);
    expect(err.actual.size).toBeLessThanOrEqual(110_000);
    expect(await store.stat('t8/big')).toBeNull();
    expect(tmpFiles()).toEqual([]);
    // exactly maxBytes is fine
    expect((await store.put('t8/ok', chunked(randomBytes(100_000), 10_000), { maxBytes: 100_000 })).size).toBe(100_000);
  });

  it('a rejected put leaves the source stream alive (the caller drains it, e.g. an HTTP request)', async () => {
    const src = new PassThrough();
    src.write(Buffer.alloc(50, 1));
    const p = store.put('t9/x', src, { maxBytes: 10 });
    expect((await rejection(p)).reason).toBe('too_large');
    expect(src.destroyed).toBe(false);
    // still drainable to its end
    src.end(Buffer.alloc(50, 2));
    let rest = 0;
    src.on('data', (c: Buffer) => (rest += c.length));
    await new Promise((r) => src.on('end', r));
    expect(rest).toBeGreaterThanOrEqual(0);
    expect(tmpFiles()).toEqual([]);
  });

  it('a failing source → put rejects with its error, nothing stored', async () => {
    const src = new PassThrough();
    const p = store.put('t10/x', src);
    src.write(Buffer.alloc(1000, 1));
    setTimeout(() => src.destroy(new Error('client went away')), 10);
    await expect(p).rejects.toThrow(/client went away|premature close/i);
    expect(await store.stat('t10/x')).toBeNull();
    expect(tmpFiles()).toEqual([]);
  });

  it('concurrent puts of the same key all succeed and the content is intact', async () => {
    const body = randomBytes(2_000_000);
    const h = sha(body);
    const results = await Promise.all(Array.from({ length: 6 }, () =>
      store.put(`t11/${h}`, chunked(body, 16 * 1024), { expectedSha256: h, expectedSize: body.length })));
    for (const r of results) expect(r).toEqual({ sha256: h, size: body.length });
    expect(sha(await read(await store.get(`t11/${h}`)))).toBe(h);
    expect(tmpFiles()).toEqual([]);
  });

  it('check() passes on a usable store', async () => {
    await expect(store.check()).resolves.toBeUndefined();
    expect(store.description).toContain('fs:');
  });
});
