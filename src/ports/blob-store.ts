import type { Readable } from 'node:stream';

export interface PutOptions {
  /** reject (and store nothing) if the stream's sha256 differs */
  expectedSha256?: string;
  /** reject (and store nothing) if the stream's length differs */
  expectedSize?: number;
  /** abort (and store nothing) once more than this many bytes arrive */
  maxBytes?: number;
}

export interface PutResult {
  sha256: string;
  size: number;
}

/** Why a put was rejected; the domain turns these into API errors. */
export class BlobRejectedError extends Error {
  constructor(
    readonly reason: 'hash_mismatch' | 'size_mismatch' | 'too_large',
    readonly actual: { sha256?: string; size: number },
  ) {
    super(`blob rejected: ${reason}`);
    this.name = 'BlobRejectedError';
  }
}

/**
 * Key/value object storage for blobs and outputs. Keys are relative slash-separated paths chosen by the domain
 * (e.g. `blobs/ab/cd/<sha256>`). A put is atomic: the key is either absent or holds the complete, verified bytes.
 */
export interface BlobStore {
  put(key: string, body: Readable, opts?: PutOptions): Promise<PutResult>;
  /** null if absent */
  get(key: string, range?: { start: number; end: number }): Promise<Readable | null>;
  stat(key: string): Promise<{ size: number; modifiedAt: number } | null>;
  delete(key: string): Promise<void>;
  /** every key under the prefix, with its modification time (for garbage collection) */
  list(prefix: string): AsyncIterable<{ key: string; modifiedAt: number }>;
  /** throws if the store is not usable (for /readyz) */
  check(): Promise<void>;
  /**
   * Optional: a URL the store itself serves, with no credentials needed, until it expires (S3 presigned GET). The
   * response carries `Content-Type: application/pdf` and a Content-Disposition with `fileName`. Only called when
   * `PRESS_SIGNED_URLS=s3`; stores without it leave links to this server. The URL is not checked against the key's
   * existence and stops working once the object is deleted.
   */
  presignGet?(key: string, opts: { expiresInSeconds: number; fileName: string; disposition: 'attachment' | 'inline' }): Promise<string>;
  /** human-readable description for logs and /readyz */
  readonly description: string;
}
