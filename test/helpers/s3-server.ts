import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable, finished } from 'node:stream';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import S3rver from 's3rver';

/**
 * A local S3-compatible server for tests: s3rver (npm, pure JavaScript, no network, runs on Node 20), on 127.0.0.1
 * with a random port and a temp directory, path-style addressing, its fixed dummy credentials.
 *
 * Why s3rver: no MinIO, SeaweedFS or Garage package is reachable here, and s3rver speaks enough of the protocol
 * (SigV4 headers and presigned query strings, multipart uploads, CopyObject with REPLACE metadata, ListObjectsV2,
 * ranges, response-header overrides). `S3RVER_LOG=1` prints its request log. It is unmaintained since 2021 and has a few gaps,
 * shimmed below so the tests exercise our adapter and not the emulator's bugs:
 * - ListObjectsV2 continuation tokens are DES-encrypted, which OpenSSL 3 (Node ≥ 17) refuses: every truncated listing
 *   fails with a 500. The shim pages itself and uses the base64url of the last key as the (opaque) token.
 * - AbortMultipartUpload answers 405 MethodNotAllowed: a middleware implements it (drops the parts).
 * - `Range: bytes=0-0` returns the whole object (`end || Infinity`): the store gets the end as "0" instead.
 * - PutObject / CompleteMultipartUpload answer before the object file is flushed, so an immediate CopyObject can
 *   copy a truncated file: the store's putObject waits until the file has its full size.
 * - Writes are not safe concurrently (two copies to one key interleave their metadata files; a delete removes the
 *   "directory" another put is writing into): the store's writes run one at a time. Reads stay concurrent, so a GET
 *   racing an overwrite of the same key can still see a partial file here (never on S3).
 */
export interface S3TestServer {
  endpoint: string;
  bucket: string;
  /** the environment that points the whole server at this store */
  env: {
    S3_BUCKET: string;
    S3_ENDPOINT: string;
    S3_FORCE_PATH_STYLE: 'true';
    S3_ACCESS_KEY_ID: string;
    S3_SECRET_ACCESS_KEY: string;
    S3_REGION: string;
  };
  /** multipart uploads begun and neither completed nor aborted (parts held by the emulator) */
  pendingMultipartUploads(): string[];
  /** the emulator's file holding an object's bytes (its mtime is the object's LastModified); it exists iff the object does */
  objectFile(key: string): string;
  stop(): Promise<void>;
}

/** s3rver's built-in account */
const ACCESS_KEY_ID = 'S3RVER';
const SECRET_ACCESS_KEY = 'S3RVER';

interface FilesystemStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  getObject(bucket: string, key: string, options?: { start?: number; end?: number | string }): Promise<unknown>;
  putObject(object: { bucket: string; key: string }): Promise<{ size: number; md5: string }>;
  listObjects(bucket: string, options: unknown): Promise<ListResult>;
  copyObject(...args: unknown[]): Promise<unknown>;
  deleteObject(...args: unknown[]): Promise<unknown>;
  putObjectMultipart(...args: unknown[]): Promise<unknown>;
}

interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  status: number;
  body: unknown;
}

interface ListResult {
  objects: Array<{ key: string }>;
  commonPrefixes: string[];
  isTruncated: boolean;
}

const require = createRequire(import.meta.url);
const bucketController = require('s3rver/lib/controllers/bucket.js') as { getBucket(ctx: KoaContext): Promise<void>; __pressShim?: true };
/** the page being listed: set by the store's listObjects shim when it cut the page short */
const listing = new AsyncLocalStorage<{ lastKey?: string }>();
/** inside one of the store's serialised writes (they nest: putObjectMultipart calls putObject) */
const writing = new AsyncLocalStorage<true>();

// The router calls `bucketController.getBucket(ctx)` at request time, so replacing the export reaches it.
if (!bucketController.__pressShim) {
  const getBucket = bucketController.getBucket;
  bucketController.getBucket = async (ctx) => {
    const token = ctx.query['continuation-token'];
    if (ctx.query['list-type'] !== '2') return getBucket(ctx);
    if (token) {
      delete ctx.query['continuation-token'];
      ctx.query['start-after'] = Buffer.from(token, 'base64url').toString('utf8');
    }
    const page: { lastKey?: string } = {};
    await listing.run(page, () => getBucket(ctx));
    const result = (ctx.body as { ListBucketResult: Record<string, unknown> }).ListBucketResult;
    const lastKey = page.lastKey;
    if (token) {
      result.StartAfter = undefined;
      result.ContinuationToken = token;
    }
    if (lastKey !== undefined) {
      result.IsTruncated = true;
      result.NextContinuationToken = Buffer.from(lastKey, 'utf8').toString('base64url');
    }
  };
  bucketController.__pressShim = true;
}

export async function startS3Server(opts: { bucket?: string } = {}): Promise<S3TestServer> {
  const bucket = opts.bucket ?? 'press-test';
  const directory = mkdtempSync(join(tmpdir(), 'press-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory,
    silent: !process.env.S3RVER_LOG,
    configureBuckets: [{ name: bucket, configs: [] }],
    vhostBuckets: false,
  });
  const store = (server as unknown as { store: FilesystemStore }).store;
  const uploadsDir = () => store.getResourcePath(bucket, undefined, 'uploads');

  const getObject = store.getObject.bind(store);
  store.getObject = (b, k, options) => getObject(b, k, options?.end === 0 ? { ...options, end: '0' } : options);

  // keep the controller from minting a DES token: it sees an untruncated page, the getBucket shim adds the token
  const listObjects = store.listObjects.bind(store);
  store.listObjects = async (b, options) => {
    const result = await listObjects(b, options);
    const page = listing.getStore();
    if (page && result.isTruncated) {
      page.lastKey = result.objects[result.objects.length - 1]?.key;
      return { ...result, isTruncated: false };
    }
    return result;
  };

  let lastWrite: Promise<unknown> = Promise.resolve();
  const serialised = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => (...args: A): Promise<R> => {
    if (writing.getStore()) return fn(...args);
    const run = lastWrite.then(() => writing.run(true, () => fn(...args)));
    lastWrite = run.catch(() => undefined);
    return run;
  };
  const putObject = store.putObject.bind(store);
  store.putObject = serialised(async (object: { bucket: string; key: string; content?: unknown }) => {
    // s3rver pipes the request into the file and waits for 'finish': a client that dies mid-body (a SIGKILLed node)
    // would leave that promise, and with it every later write here, pending forever. Fail the put instead.
    const body = object.content;
    const cut = body instanceof Readable
      ? new Promise<never>((_, reject) => finished(body, (err) => err && reject(err)))
      : null;
    const result = cut ? await Promise.race([putObject(object), cut]) : await putObject(object);
    const file = store.getResourcePath(object.bucket, object.key, 'object');
    for (let i = 0; i < 500 && (await stat(file)).size < result.size; i++) await sleep(2);
    return result;
  });
  store.copyObject = serialised(store.copyObject.bind(store));
  store.deleteObject = serialised(store.deleteObject.bind(store));
  store.putObjectMultipart = serialised(store.putObjectMultipart.bind(store));

  // AbortMultipartUpload: DELETE /<bucket>/<key>?uploadId=…, ahead of s3rver's router (which refuses it)
  const middleware = (server as unknown as { middleware: Array<(ctx: KoaContext, next: () => Promise<void>) => Promise<void>> }).middleware;
  middleware.unshift(async (ctx, next) => {
    const uploadId = ctx.query.uploadId;
    if (ctx.method === 'DELETE' && uploadId && /^[0-9a-f]+$/i.test(uploadId) && ctx.path.startsWith(`/${bucket}/`)) {
      rmSync(join(uploadsDir(), uploadId), { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    await next();
  });

  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    env: {
      S3_BUCKET: bucket,
      S3_ENDPOINT: endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: ACCESS_KEY_ID,
      S3_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
      S3_REGION: 'us-east-1',
    },
    objectFile(key: string) {
      return store.getResourcePath(bucket, key, 'object');
    },
    pendingMultipartUploads() {
      try {
        return readdirSync(uploadsDir());
      } catch {
        return [];
      }
    },
    async stop() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
