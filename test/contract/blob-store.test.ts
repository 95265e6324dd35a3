import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore } from '../../src/adapters/fs-blob/fs-blob-store.js';
import { S3BlobStore } from '../../src/adapters/s3/s3-blob-store.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { DomainDeps } from '../../src/domain/context.js';
import { jobOutputLink, pdfLink } from '../../src/domain/render-jobs.js';
import { createDomainDeps } from '../../src/start/compose.js';
import { BlobRejectedError, type BlobStore } from '../../src/ports/blob-store.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';

/**
 * One contract, every BlobStore adapter: the disk store and the S3 store (against a local s3rver) must behave the
 * same for everything the domain relies on: atomic verified puts, rejections that store nothing and leave the
 * caller's stream alive, ranges, directory-like listing, idempotent deletes.
 */

const MB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Backend {
  store: BlobStore;
  /** temp files/objects and unfinished multipart uploads the store left behind */
  leftovers(): Promise<string[]>;
  /** the store pages its listings this many keys at a time (to exercise pagination) */
  pageSize: number | null;
  stop(): Promise<void>;
}

let s3: S3TestServer | null = null;
async function s3Server() {
  s3 ??= await startS3Server();
  return s3;
}
afterAll(async () => {
  await s3?.stop();
});

function rawClient(srv: S3TestServer) {
  return new S3Client({
    region: srv.env.S3_REGION, endpoint: srv.endpoint, forcePathStyle: true,
    credentials: { accessKeyId: srv.env.S3_ACCESS_KEY_ID, secretAccessKey: srv.env.S3_SECRET_ACCESS_KEY },
  });
}

async function rawKeys(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (res.Contents ?? []).map((o) => o.Key!);
}

const backends: Array<{ name: string; presigns: boolean; start(): Promise<Backend> }> = [
  {
    name: 'fs',
    presigns: false,
    async start() {
      const dir = mkdtempSync(join(tmpdir(), 'press-contract-'));
      const store = new FsBlobStore(join(dir, 'storage'));
      await store.init();
      return {
        store,
        leftovers: async () => readdirSync(join(dir, 'storage', 'tmp')),
        pageSize: null,
        stop: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 's3',
    presigns: true,
    async start() {
      const srv = await s3Server();
      const e = srv.env;
      const prefix = `contract-${randomBytes(4).toString('hex')}/`;
      const store = new S3BlobStore({
        bucket: e.S3_BUCKET, endpoint: e.S3_ENDPOINT, region: e.S3_REGION, accessKeyId: e.S3_ACCESS_KEY_ID,
        secretAccessKey: e.S3_SECRET_ACCESS_KEY, forcePathStyle: true, prefix, maxKeys: 2,
      });
      const raw = rawClient(srv);
      return {
        store,
        leftovers: async () => [...(await rawKeys(raw, e.S3_BUCKET, `${prefix}tmp/`)), ...srv.pendingMultipartUploads().map((id) => `multipart:${id}`)],
        pageSize: 2,
        stop: async () => {
          store.destroy();
          raw.destroy();
        },
      };
    },
  },
];

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

async function keys(store: BlobStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of store.list(prefix)) {
    expect(e.modifiedAt).toEqual(expect.any(Number));
    out.push(e.key);
  }
  return out.sort();
}

describe.each(backends)('BlobStore contract: $name', ({ name, presigns, start }) => {
  let b: Backend;
  let store: BlobStore;
  beforeAll(async () => {
    b = await start();
    store = b.store;
  });
  afterAll(async () => b?.stop());

  it('put → stat → get → list → delete', async () => {
    const body = randomBytes(100_000);
    expect(await store.put('t1/a/b.bin', chunked(body))).toEqual({ sha256: sha(body), size: body.length });
    const st = await store.stat('t1/a/b.bin');
    expect(st).toEqual({ size: body.length, modifiedAt: expect.any(Number) });
    expect(Math.abs(st!.modifiedAt - Date.now())).toBeLessThan(60_000);
    expect((await read(await store.get('t1/a/b.bin'))).equals(body)).toBe(true);

    await store.put('t1/c.txt', Readable.from([Buffer.from('c')]));
    await store.put('t10/d.txt', Readable.from([Buffer.from('d')]));
    expect(await keys(store, 't1/')).toEqual(['t1/a/b.bin', 't1/c.txt']);
    expect(await keys(store, 't1')).toEqual(['t1/a/b.bin', 't1/c.txt']); // a directory, never a string prefix of t10/
    expect(await keys(store, 't1/a/')).toEqual(['t1/a/b.bin']);
    expect(await keys(store, 'nope/')).toEqual([]);
    expect(await keys(store, '')).toEqual(expect.arrayContaining(['t1/a/b.bin', 't1/c.txt', 't10/d.txt']));

    await store.delete('t1/a/b.bin');
    expect(await store.stat('t1/a/b.bin')).toBeNull();
    expect(await store.get('t1/a/b.bin')).toBeNull();
    expect(await keys(store, 't1/')).toEqual(['t1/c.txt']);
    await store.delete('t1/a/b.bin'); // deleting an absent key is fine
    expect(await store.stat('never/was')).toBeNull();
    expect(await store.get('never/was')).toBeNull();
  });

  it('an empty body is a valid blob', async () => {
    const res = await store.put('t2/empty', Readable.from([]), { expectedSha256: sha(Buffer.alloc(0)), expectedSize: 0 });
    expect(res).toEqual({ sha256: sha(Buffer.alloc(0)), size: 0 });
    expect((await read(await store.get('t2/empty'))).length).toBe(0);
    expect((await store.stat('t2/empty'))?.size).toBe(0);
  });

  it('overwriting a key replaces its bytes', async () => {
    await store.put('t3/k', Readable.from([Buffer.from('first')]));
    await store.put('t3/k', Readable.from([Buffer.from('second version')]));
    expect((await read(await store.get('t3/k'))).toString()).toBe('second version');
  });

  it('range get returns bytes start..end inclusive, clamped to the end', async () => {
    await store.put('t4/r', Readable.from([Buffer.from('0123456789abcdef')]));
    const range = async (start: number, end: number) => (await read(await store.get('t4/r', { start, end }))).toString();
    expect(await range(0, 0)).toBe('0');
    expect(await range(3, 7)).toBe('34567');
    expect(await range(10, 15)).toBe('abcdef');
    expect(await range(10, 1000)).toBe('abcdef');
    expect(await range(16, 20)).toBe('');
    expect(await store.get('t4/none', { start: 0, end: 3 })).toBeNull();
  });

  const badKeys = ['', '..', '../x', 'a/../../x', 'a/..', '/etc/passwd', '/abs/key', 'a\0b', 'a\\b', '..\\x', 'a//b', 'a/', './a', 'a/./b', '.'];
  it('rejects invalid keys on every operation, storing nothing', async () => {
    const before = await keys(store, '');
    for (const key of badKeys) {
      await expect(store.put(key, Readable.from([Buffer.from('x')])), key).rejects.toThrow(/invalid blob key/);
      await expect(store.get(key), key).rejects.toThrow(/invalid blob key/);
      await expect(store.stat(key), key).rejects.toThrow(/invalid blob key/);
      await expect(store.delete(key), key).rejects.toThrow(/invalid blob key/);
      if (key !== '' && key !== 'a/') { // list('') is the whole store and list('a/') the directory a: both valid
        await expect(keys(store, key), key).rejects.toThrow(/invalid blob key/);
      }
    }
    expect(await keys(store, '')).toEqual(before);
    expect(await b.leftovers()).toEqual([]);
  });

  it('expectedSha256 mismatch → hash_mismatch; key absent, no temp left, an existing copy untouched', async () => {
    const good = Buffer.from('the real bytes');
    const bad = Buffer.from('the fake bytes');
    const err = await rejection(store.put('t5/new', Readable.from([bad]), { expectedSha256: sha(good) }));
    expect(err.reason).toBe('hash_mismatch');
    expect(err.actual).toEqual({ sha256: sha(bad), size: bad.length });
    expect(await store.stat('t5/new')).toBeNull();
    expect(await b.leftovers()).toEqual([]);

    await store.put('t5/existing', Readable.from([good]), { expectedSha256: sha(good) });
    expect((await rejection(store.put('t5/existing', Readable.from([bad]), { expectedSha256: sha(good) }))).reason).toBe('hash_mismatch');
    expect((await read(await store.get('t5/existing'))).equals(good)).toBe(true);
    expect(await b.leftovers()).toEqual([]);
  });

  it('expectedSize: shorter and longer bodies → size_mismatch; nothing stored', async () => {
    const body = randomBytes(300_000);
    const short = await rejection(store.put('t6/s', chunked(body.subarray(0, 299_999)), { expectedSize: body.length }));
    expect(short.reason).toBe('size_mismatch');
    expect(short.actual).toEqual({ sha256: sha(body.subarray(0, 299_999)), size: 299_999 });
    const long = await rejection(store.put('t6/s', chunked(Buffer.concat([body, Buffer.from('x')])), { expectedSize: body.length }));
    expect(long.reason).toBe('size_mismatch');
    expect(long.actual.size).toBeGreaterThan(body.length);
    expect(long.actual.sha256).toBeUndefined(); // stopped mid-stream: no hash of a body never read to its end
    expect(await store.stat('t6/s')).toBeNull();
    expect(await b.leftovers()).toEqual([]);
  });

  it('maxBytes → too_large as soon as the limit is passed; exactly maxBytes is fine', async () => {
    const err = await rejection(store.put('t7/big', chunked(randomBytes(1_000_000), 10_000), { maxBytes: 100_000 }));
    expect(err.reason).toBe('too_large');
    expect(err.actual.size).toBeGreaterThan(100_000);
    expect(err.actual.size).toBeLessThanOrEqual(110_000);
    expect(await store.stat('t7/big')).toBeNull();
    expect(await b.leftovers()).toEqual([]);
    expect((await store.put('t7/ok', chunked(randomBytes(100_000), 10_000), { maxBytes: 100_000 })).size).toBe(100_000);
  });

  it('a rejection after part of a large body was uploaded stores nothing and leaves no parts', async () => {
    // past the first multipart part (S3: 8 MiB) before the limit trips
    const err = await rejection(store.put('t8/big', chunked(randomBytes(12 * MB), MB), { maxBytes: 10 * MB }));
    expect(err.reason).toBe('too_large');
    expect(await store.stat('t8/big')).toBeNull();
    expect(await b.leftovers()).toEqual([]);
  });

  it('a rejected put leaves the caller\'s stream alive (the caller drains it, e.g. an HTTP request)', async () => {
    const src = new PassThrough();
    src.write(Buffer.alloc(50, 1));
    expect((await rejection(store.put('t9/x', src, { maxBytes: 10 }))).reason).toBe('too_large');
    expect(src.destroyed).toBe(false);
    src.end(Buffer.alloc(50, 2));
    const chunks: Buffer[] = [];
    src.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((r) => src.on('end', r));
    // the put stopped reading when it rejected: every byte written after that reaches the caller
    const rest = Buffer.concat(chunks);
    expect(rest.length).toBeGreaterThanOrEqual(50);
    expect(rest.subarray(rest.length - 50)).toEqual(Buffer.alloc(50, 2));
    expect(await store.stat('t9/x')).toBeNull();
    expect(await b.leftovers()).toEqual([]);

    const mismatch = new PassThrough();
    const p = store.put('t9/y', mismatch, { expectedSize: 10 });
    mismatch.write(Buffer.alloc(20, 3));
    expect((await rejection(p)).reason).toBe('size_mismatch');
    expect(mismatch.destroyed).toBe(false);
    mismatch.end();
    mismatch.resume();
    await new Promise((r) => mismatch.on('end', r));
  });

  it('a failing source → put rejects with its error; nothing stored', async () => {
    const src = new PassThrough();
    const p = store.put('t10/x', src);
    src.write(Buffer.alloc(1000, 1));
    setTimeout(() => src.destroy(new Error('client went away')), 10);
    await expect(p).rejects.toThrow(/client went away|premature close/i);
    expect(await store.stat('t10/x')).toBeNull();
    expect(await b.leftovers()).toEqual([]);
  });

  it('a 12 MB body (multipart on S3) round-trips with the right hash', async () => {
    const body = randomBytes(12 * MB);
    const h = sha(body);
    expect(await store.put(`t11/${h}`, chunked(body, 256 * 1024), { expectedSha256: h, expectedSize: body.length, maxBytes: 100 * MB }))
      .toEqual({ sha256: h, size: body.length });
    expect((await store.stat(`t11/${h}`))?.size).toBe(body.length);
    expect(sha(await read(await store.get(`t11/${h}`)))).toBe(h);
    expect((await read(await store.get(`t11/${h}`, { start: 9 * MB, end: 9 * MB + 99 }))).equals(body.subarray(9 * MB, 9 * MB + 100))).toBe(true);
    expect(await b.leftovers()).toEqual([]);
  });

  it('concurrent puts of the same key all succeed and the content is intact', async () => {
    const body = randomBytes(2_000_000);
    const h = sha(body);
    const results = await Promise.all(Array.from({ length: 6 }, () =>
      store.put(`t12/${h}`, chunked(body, 16 * 1024), { expectedSha256: h, expectedSize: body.length })));
    for (const r of results) expect(r).toEqual({ sha256: h, size: body.length });
    expect(sha(await read(await store.get(`t12/${h}`)))).toBe(h);
    expect(await keys(store, 't12/')).toEqual([`t12/${h}`]);
    expect(await b.leftovers()).toEqual([]);
  });

  it('list pages through more keys than one listing page holds', async () => {
    const want: string[] = [];
    for (let i = 0; i < 5; i++) {
      want.push(`t13/${i}/k${i}`);
      await store.put(`t13/${i}/k${i}`, Readable.from([Buffer.from(String(i))]));
    }
    if (b.pageSize !== null) expect(want.length).toBeGreaterThan(2 * b.pageSize);
    expect(await keys(store, 't13/')).toEqual(want);
    expect(await keys(store, 't13/3')).toEqual(['t13/3/k3']);
  });

  it('modifiedAt is when the put completed, not when it began (the GC grace window relies on it)', async () => {
    const started = Date.now();
    const slow = Readable.from((async function* () {
      for (let i = 0; i < 5; i++) {
        yield Buffer.alloc(1000, i);
        await sleep(450);
      }
    })());
    await store.put('t14/slow', slow);
    const st = await store.stat('t14/slow');
    // S3 reports whole seconds: the put took ≥ 2.25 s, so even truncated the time is past started + 1 s
    expect(st!.modifiedAt).toBeGreaterThanOrEqual(started + 1000);
    const listed = (await (async () => {
      for await (const e of store.list('t14/')) return e;
    })())!;
    expect(Math.abs(listed.modifiedAt - st!.modifiedAt)).toBeLessThan(1000);
  });

  it('check() passes and description names the backend', async () => {
    await expect(store.check()).resolves.toBeUndefined();
    expect(store.description.startsWith(`${name}:`)).toBe(true);
  });

  it.runIf(!presigns)('has no presignGet (links stay on this server)', () => {
    expect(store.presignGet).toBeUndefined();
  });

  it.runIf(presigns)('presignGet: the URL downloads the object with application/pdf and the content-disposition', async () => {
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(5000)]);
    await store.put('t15/out.pdf', Readable.from([pdf]));
    const fileName = 'Facture n°42 "final".pdf';
    const url = await store.presignGet!('t15/out.pdf', { expiresInSeconds: 60, fileName, disposition: 'attachment' });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(pdf)).toBe(true);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="Facture n_42 _final_.pdf"; filename*=UTF-8''${encodeURIComponent(fileName)}`);

    const inline = await fetch(await store.presignGet!('t15/out.pdf', { expiresInSeconds: 60, fileName: 'a.pdf', disposition: 'inline' }));
    expect(inline.status).toBe(200);
    expect(inline.headers.get('content-disposition')).toBe(`inline; filename="a.pdf"; filename*=UTF-8''a.pdf`);
    await inline.arrayBuffer();

    // SigV4 query signing: the response overrides are signed parameters (s3rver does not check them; S3 does)
    const q = new URL(url).searchParams;
    expect(q.get('X-Amz-Expires')).toBe('60');
    expect(q.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(q.get('response-content-type')).toBe('application/pdf');

    // the store enforces the expiry
    const short = await store.presignGet!('t15/out.pdf', { expiresInSeconds: 1, fileName: 'a.pdf', disposition: 'inline' });
    await sleep(2100);
    const expired = await fetch(short);
    expect(expired.status).toBe(403);
    await expired.arrayBuffer();
  });
});

describe('S3BlobStore specifics', () => {
  let srv: S3TestServer;
  let raw: S3Client;
  beforeAll(async () => {
    srv = await s3Server();
    raw = rawClient(srv);
  });
  afterAll(() => raw?.destroy());

  const storeWith = (prefix: string) => new S3BlobStore({
    bucket: srv.bucket, endpoint: srv.endpoint, region: 'us-east-1', accessKeyId: srv.env.S3_ACCESS_KEY_ID,
    secretAccessKey: srv.env.S3_SECRET_ACCESS_KEY, forcePathStyle: true, prefix,
  });

  it('keys live under the prefix; the final object carries its sha256; tmp/ is reserved', async () => {
    const store = storeWith('tenant-a/');
    const other = storeWith('tenant-b/');
    const body = Buffer.from('prefixed');
    await store.put('blobs/x', Readable.from([body]));
    expect(await rawKeys(raw, srv.bucket, 'tenant-a/')).toEqual(['tenant-a/blobs/x']);
    expect(await other.stat('blobs/x')).toBeNull();
    expect(await keys(other, '')).toEqual([]);
    const head = await raw.send(new HeadObjectCommand({ Bucket: srv.bucket, Key: 'tenant-a/blobs/x' }));
    expect(head.Metadata?.sha256).toBe(sha(body));
    await expect(store.put('tmp/x', Readable.from([body]))).rejects.toThrow(/invalid blob key.*tmp/);
    await expect(store.get('tmp')).rejects.toThrow(/invalid blob key/);
    expect(store.description).toBe(`s3:${srv.bucket}@${srv.endpoint}`);
    store.destroy();
    other.destroy();
  });

  it('check() fails on a missing bucket', async () => {
    const store = new S3BlobStore({
      bucket: 'no-such-bucket', endpoint: srv.endpoint, region: 'us-east-1', accessKeyId: srv.env.S3_ACCESS_KEY_ID,
      secretAccessKey: srv.env.S3_SECRET_ACCESS_KEY, forcePathStyle: true,
    });
    await expect(store.check()).rejects.toThrow();
    store.destroy();
  });

  it('configuration: S3_* settings, defaults and mistakes named', () => {
    expect(loadConfig({}).s3).toBeNull();
    expect(loadConfig({}).signedUrls).toBe('server');
    const c = loadConfig({ ...srv.env, S3_REGION: '', S3_PREFIX: '/press/', PRESS_SIGNED_URLS: 's3' });
    expect(c.s3).toEqual({
      bucket: srv.bucket, endpoint: srv.endpoint, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER',
      forcePathStyle: true, prefix: 'press/',
    });
    expect(c.signedUrls).toBe('s3');
    expect(loadConfig({ S3_BUCKET: 'b' }).s3).toMatchObject({ endpoint: null, accessKeyId: null, forcePathStyle: false, prefix: '' });
    expect(() => loadConfig({ S3_ENDPOINT: 'http://x' })).toThrow(/S3_ENDPOINT.*without S3_BUCKET/);
    expect(() => loadConfig({ S3_BUCKET: 'b', S3_ENDPOINT: 'ftp://x' })).toThrow(/S3_ENDPOINT/);
    expect(() => loadConfig({ S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'k' })).toThrow(/S3_SECRET_ACCESS_KEY/);
    expect(() => loadConfig({ S3_BUCKET: 'b', S3_FORCE_PATH_STYLE: 'yes' })).toThrow(/S3_FORCE_PATH_STYLE/);
    expect(() => loadConfig({ PRESS_SIGNED_URLS: 'cdn' })).toThrow(ConfigError);
    expect(() => loadConfig({ PRESS_SIGNED_URLS: 's3' })).toThrow(/S3_BUCKET/);
  });

  it('PRESS_SIGNED_URLS=s3: job output and managed PDF links are presigned S3 URLs; server mode keeps our links', async () => {
    const store = storeWith('links/');
    const pdfBytes = Buffer.from('%PDF-1.7 links');
    await store.put('pdfs/01/pdf_1.pdf', Readable.from([pdfBytes]));
    await store.put('outputs/01/rj_1.pdf', Readable.from([pdfBytes]));
    const now = Date.now();
    const pdf = { id: 'pdf_1', accountId: 'acc_1', outputKey: 'pdfs/01/pdf_1.pdf', fileName: 'invoice-7.pdf' };
    const job = {
      id: 'rj_1', accountId: 'acc_1', status: 'succeeded', pdfId: null, outputKey: 'outputs/01/rj_1.pdf', outputBytes: pdfBytes.length,
      outputExpiresAt: now + 30_000, outputDeletedAt: null, fileName: 'report.pdf',
    };
    const deps = (signedUrls: 'server' | 's3') => ({
      blobs: store,
      clock: { now: () => now },
      linkSigningKey: Buffer.alloc(32, 7),
      settings: { signedUrls, publicUrl: 'http://api.test' },
      db: {
        renderJobs: { get: async (accountId: string, id: string) => (accountId === job.accountId && id === job.id ? job : null) },
        pdfs: { get: async (accountId: string, id: string) => (accountId === pdf.accountId && id === pdf.id ? pdf : null) },
      },
    }) as unknown as DomainDeps;
    const caller = { accountId: 'acc_1', keyId: 'key_1', role: 'viewer' as const };

    const pdfAccess = (await pdfLink(deps('s3'), caller, 'pdf_1', 'inline', 120)).access;
    expect(pdfAccess.url.startsWith(`${srv.endpoint}/${srv.bucket}/links/pdfs/01/pdf_1.pdf?`)).toBe(true);
    expect(pdfAccess.expiresAt).toBe(now + 120_000);
    const res = await fetch(pdfAccess.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe(`inline; filename="invoice-7.pdf"; filename*=UTF-8''invoice-7.pdf`);
    expect(Buffer.from(await res.arrayBuffer()).equals(pdfBytes)).toBe(true);

    // a transient output's link never outlives the output (30 s here, though 600 s were asked)
    const jobAccess = (await jobOutputLink(deps('s3'), caller, 'rj_1', 'attachment', 600)).access;
    expect(new URL(jobAccess.url).searchParams.get('X-Amz-Expires')).toBe('30');
    expect(jobAccess.expiresAt).toBe(now + 30_000);
    const out = await fetch(jobAccess.url);
    expect(out.headers.get('content-disposition')).toMatch(/^attachment; filename="report.pdf"/);
    await out.arrayBuffer();

    expect((await pdfLink(deps('server'), caller, 'pdf_1', 'inline')).access.url).toMatch(/^http:\/\/api\.test\/v1\/signed\/pdfs\/pdf_1\?/);
    expect((await jobOutputLink(deps('server'), caller, 'rj_1', 'inline')).access.url).toMatch(/^http:\/\/api\.test\/v1\/signed\/render-jobs\/rj_1\/output\?/);
    store.destroy();
  });

  it('the composition root picks S3 when S3_BUCKET is set, the disk otherwise', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'press-compose-'));
    try {
      const onS3 = await createDomainDeps(loadConfig({ ...srv.env, PRESS_DATA_DIR: join(dir, 'a'), PRESS_SIGNED_URLS: 's3' }));
      expect(onS3.blobs.description).toBe(`s3:${srv.bucket}@${srv.endpoint}`);
      expect(onS3.settings.signedUrls).toBe('s3');
      await onS3.blobs.check();
      const onDisk = await createDomainDeps(loadConfig({ PRESS_DATA_DIR: join(dir, 'b') }));
      expect(onDisk.blobs.description.startsWith('fs:')).toBe(true);
      expect(onDisk.settings.signedUrls).toBe('server');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
