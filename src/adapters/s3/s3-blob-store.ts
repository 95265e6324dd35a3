import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { BlobRejectedError, type BlobStore, type PutOptions, type PutResult } from '../../ports/blob-store.js';

export interface S3BlobStoreOptions {
  bucket: string;
  /** S3_ENDPOINT; null/undefined = AWS itself */
  endpoint?: string | null;
  region: string;
  /** null = the AWS SDK's default credential chain */
  accessKeyId?: string | null;
  secretAccessKey?: string | null;
  forcePathStyle?: boolean;
  /** every key lives under this prefix ("" or ending in "/") */
  prefix?: string;
  /** ListObjectsV2 page size (S3 caps it at 1000); tests use a small one to exercise pagination */
  maxKeys?: number;
  /** multipart part size in bytes (S3's minimum is 5 MiB); bodies up to this size go up in one PutObject */
  partSize?: number;
  /** parts in flight per put; a put buffers about partSize × (queueSize + 1) bytes */
  queueSize?: number;
}

/**
 * Uploads in progress live under `<prefix>tmp/`, outside every key the domain may use (keys under `tmp/` are refused
 * and `list` skips them). A crash between upload and clean-up can leave one there: give the bucket a lifecycle rule
 * that expires `<prefix>tmp/` and aborts incomplete multipart uploads after a day (docs/deploy.md).
 */
const TMP = 'tmp/';

const DEFAULT_PART_SIZE = 8 * 1024 * 1024;

/** Same rules as the disk adapter, so a key valid on one store is valid on the other. */
function checkKey(key: string): void {
  if (!key || key.includes('\0') || key.includes('\\') || key.startsWith('/') || key.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new Error(`invalid blob key: ${JSON.stringify(key)}`);
  }
  if (key === TMP.slice(0, -1) || key.startsWith(TMP)) throw new Error(`invalid blob key: ${JSON.stringify(key)} (${TMP} holds uploads in progress)`);
}

/** RFC 6266 Content-Disposition with an ASCII fallback and the UTF-8 name (as the API's own download routes send). */
function contentDisposition(kind: 'attachment' | 'inline', fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/**
 * Blob store on any S3-compatible object store (AWS S3, Cloudflare R2, Garage, SeaweedFS, MinIO…).
 *
 * A put streams the body through a hashing, counting stage into a (multipart) upload to a temporary key, then, once
 * the size and sha256 are verified, copies it to the final key and deletes the temporary one: the final key never
 * holds partial or unverified bytes, on any node. CopyObject takes objects up to 5 GB in one request; every object
 * here is at most a few hundred MB (uploads ≤ 100 MB, render outputs ≤ 200 MB), so UploadPartCopy is not needed.
 *
 * Garbage collection with several nodes: S3's `LastModified` (what `list` and `stat` report) is the time the final
 * object was written by the copy, i.e. when the upload completed, not when it began. A fresh or re-uploaded blob
 * therefore always looks new, and the domain's grace window (it deletes only blobs older than that and held by no
 * account, re-checking `stat` right before deleting) keeps an upload that has not yet recorded its holding safe.
 * The window (an hour) also absorbs clock skew between the nodes and the store. Use an unversioned bucket, or
 * expire noncurrent versions, or deleted blobs keep costing storage.
 */
export class S3BlobStore implements BlobStore {
  readonly description: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly maxKeys: number;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(opts: S3BlobStoreOptions) {
    if (opts.prefix && !opts.prefix.endsWith('/')) throw new Error(`S3 key prefix ${JSON.stringify(opts.prefix)} must end with "/"`);
    this.bucket = opts.bucket;
    this.prefix = opts.prefix ?? '';
    this.maxKeys = opts.maxKeys ?? 1000;
    this.partSize = Math.max(5 * 1024 * 1024, opts.partSize ?? DEFAULT_PART_SIZE);
    this.queueSize = opts.queueSize ?? 2;
    const endpoint = opts.endpoint ?? undefined;
    this.client = new S3Client({
      region: opts.region,
      endpoint,
      forcePathStyle: opts.forcePathStyle ?? false,
      credentials: opts.accessKeyId && opts.secretAccessKey ? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey } : undefined,
      // Since SDK 3.729 every upload carries a CRC32 checksum, which several S3-compatible stores reject or mangle
      // (aws-chunked bodies); off AWS, send checksums only where the API requires them. Our own sha256 check covers
      // the bytes end to end either way.
      requestChecksumCalculation: endpoint ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
      responseChecksumValidation: endpoint ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
      maxAttempts: 3,
    });
    this.description = `s3:${opts.bucket}@${endpoint ?? `s3.${opts.region}.amazonaws.com`}`;
  }

  private objectKey(key: string): string {
    checkKey(key);
    return this.prefix + key;
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<PutResult> {
    const finalKey = this.objectKey(key);
    const tmpKey = `${this.prefix}${TMP}${randomBytes(16).toString('hex')}`;
    const hash = createHash('sha256');
    let size = 0;
    let rejected: BlobRejectedError | null = null;
    // Read through an iterator that leaves the body alive when we stop early: the body is the caller's (often an
    // HTTP request, whose destruction would kill the connection before the 400 is sent); the caller drains it.
    const metered = async function* (): AsyncGenerator<Buffer> {
      for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (opts.maxBytes !== undefined && size > opts.maxBytes) throw (rejected = new BlobRejectedError('too_large', { size }));
        if (opts.expectedSize !== undefined && size > opts.expectedSize) throw (rejected = new BlobRejectedError('size_mismatch', { size }));
        hash.update(chunk);
        yield chunk;
      }
    };
    try {
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key: tmpKey, Body: Readable.from(metered()), ContentType: 'application/octet-stream' },
        partSize: this.partSize,
        queueSize: this.queueSize,
        // on failure the Upload aborts its multipart upload itself (best effort: a store without
        // AbortMultipartUpload keeps the parts until the bucket's lifecycle rule drops them)
        leavePartsOnError: false,
      });
      try {
        await upload.done();
      } catch (err) {
        // our rejection, not the SDK's wrapping of it (or of a failed abort that followed it)
        throw rejected ?? err;
      }
      const sha256 = hash.digest('hex');
      if (opts.expectedSize !== undefined && size !== opts.expectedSize) throw new BlobRejectedError('size_mismatch', { sha256, size });
      if (opts.expectedSha256 !== undefined && sha256 !== opts.expectedSha256) throw new BlobRejectedError('hash_mismatch', { sha256, size });
      // Only now does the key become visible, in one atomic step; concurrent puts of one key each copy complete,
      // verified bytes and the last copy wins. The sha256 travels as metadata for audits and store migrations.
      await this.client.send(new CopyObjectCommand({
        Bucket: this.bucket,
        Key: finalKey,
        CopySource: `${this.bucket}/${tmpKey.split('/').map(encodeURIComponent).join('/')}`,
        MetadataDirective: 'REPLACE',
        ContentType: 'application/octet-stream',
        Metadata: { sha256 },
      }));
      return { sha256, size };
    } finally {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: tmpKey })).catch(() => {
        // left for the lifecycle rule on tmp/; the put's own outcome is what matters to the caller
      });
    }
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Readable | null> {
    try {
      const res = await this.client.send(new GetObjectCommand({
        Bucket: this.bucket,
        Key: this.objectKey(key),
        Range: range ? `bytes=${range.start}-${range.end}` : undefined,
      }));
      return res.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) return null;
      // a range starting past the end: no bytes, as a file read would give
      if (range && (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 416) return Readable.from([]);
      throw err;
    }
  }

  async stat(key: string) {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return { size: res.ContentLength ?? 0, modifiedAt: res.LastModified?.getTime() ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** DeleteObject succeeds on an absent key too. */
  async delete(key: string) {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
  }

  /** Directory semantics like the disk adapter: `list('a')` = `list('a/')` and never matches `ab/…`. */
  async *list(prefix: string): AsyncIterable<{ key: string; modifiedAt: number }> {
    let under = '';
    if (prefix) {
      const dir = prefix.replace(/\/$/, '');
      checkKey(dir);
      under = `${dir}/`;
    }
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: this.prefix + under,
        ContinuationToken: token,
        MaxKeys: this.maxKeys,
      }));
      for (const o of page.Contents ?? []) {
        if (!o.Key) continue;
        const key = o.Key.slice(this.prefix.length);
        if (key.startsWith(TMP)) continue;
        yield { key, modifiedAt: o.LastModified?.getTime() ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async check() {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  /**
   * A presigned GET, valid `expiresInSeconds` (S3 caps presigned URLs at 7 days; with temporary credentials they
   * also end when the credentials do). The store answers with `application/pdf` and our Content-Disposition.
   */
  async presignGet(key: string, opts: { expiresInSeconds: number; fileName: string; disposition: 'attachment' | 'inline' }): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: this.objectKey(key),
      ResponseContentDisposition: contentDisposition(opts.disposition, opts.fileName),
      ResponseContentType: 'application/pdf',
    });
    return getSignedUrl(this.client, command, { expiresIn: opts.expiresInSeconds });
  }

  /** Closes the client's sockets (tests, shutdown). */
  destroy(): void {
    this.client.destroy();
  }
}
