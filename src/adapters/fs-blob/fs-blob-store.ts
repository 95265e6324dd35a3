import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, openSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, access, constants } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { BlobRejectedError, type BlobStore, type PutOptions, type PutResult } from '../../ports/blob-store.js';

/**
 * Blob store on the local disk. Writes go to a temp file in the same file system, are hashed and counted while
 * streaming, fsynced, then renamed into place, so a key never holds partial or unverified bytes.
 */
export class FsBlobStore implements BlobStore {
  private readonly root: string;
  private readonly tmp: string;
  /** directories this process created or found under the root, so a put skips the mkdir (rename recreates a vanished one) */
  private readonly dirs = new Set<string>();
  readonly description: string;

  constructor(dir: string) {
    this.root = resolve(dir, 'objects');
    this.tmp = resolve(dir, 'tmp');
    this.description = `fs:${resolve(dir)}`;
  }

  async init() {
    await mkdir(this.root, { recursive: true });
    await mkdir(this.tmp, { recursive: true });
  }

  /** Rejects absolute paths, `.`/`..` segments, NUL and backslashes so a key can never leave the root. */
  private pathOf(key: string): string {
    if (!key || key.includes('\0') || key.includes('\\') || key.startsWith('/') || key.split('/').some((s) => s === '' || s === '.' || s === '..')) {
      throw new Error(`invalid blob key: ${JSON.stringify(key)}`);
    }
    const p = resolve(this.root, key);
    if (!p.startsWith(this.root + sep)) throw new Error(`invalid blob key: ${JSON.stringify(key)}`);
    return p;
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<PutResult> {
    const dest = this.pathOf(key);
    const tmpFile = join(this.tmp, `${randomBytes(12).toString('hex')}.part`);
    const hash = createHash('sha256');
    let size = 0;
    try {
      const fh = await open(tmpFile, 'w', 0o644);
      try {
        // Read through an iterator that leaves the body alive when we stop early: the body is the caller's (often
        // an HTTP request, whose destruction would kill the connection before the 400 is sent); the caller drains it.
        for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
          size += chunk.length;
          if (opts.maxBytes !== undefined && size > opts.maxBytes) throw new BlobRejectedError('too_large', { size });
          if (opts.expectedSize !== undefined && size > opts.expectedSize) throw new BlobRejectedError('size_mismatch', { size });
          hash.update(chunk);
          await fh.write(chunk);
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      const sha256 = hash.digest('hex');
      if (opts.expectedSize !== undefined && size !== opts.expectedSize) throw new BlobRejectedError('size_mismatch', { sha256, size });
      if (opts.expectedSha256 !== undefined && sha256 !== opts.expectedSha256) throw new BlobRejectedError('hash_mismatch', { sha256, size });
      await this.renameInto(tmpFile, dest);
      return { sha256, size };
    } catch (err) {
      await rm(tmpFile, { force: true });
      throw err;
    }
  }

  private async renameInto(tmpFile: string, dest: string) {
    const dir = dirname(dest);
    if (!this.dirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.remember(dir);
      return rename(tmpFile, dest);
    }
    try {
      await rename(tmpFile, dest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // the directory was removed behind our back (or the temp file is gone, which fails again below)
      this.dirs.delete(dir);
      await mkdir(dir, { recursive: true });
      this.remember(dir);
      await rename(tmpFile, dest);
    }
  }

  private remember(dir: string) {
    if (this.dirs.size >= 100_000) this.dirs.clear();
    this.dirs.add(dir);
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Readable | null> {
    const p = this.pathOf(key);
    // open and fstat are metadata calls of microseconds on a local disk, cheaper inline than as two thread-pool round
    // trips (the reads themselves stay asynchronous). Knowing the size lets the stream stop after the last byte
    // instead of issuing one more read to find the end of the file.
    let fd: number;
    try {
      fd = openSync(p, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      let bounds: { start?: number; end?: number } = range ?? {};
      if (!range) {
        const size = fstatSync(fd).size;
        if (size > 0) bounds = { start: 0, end: size - 1 };
      }
      return createReadStream(p, { fd, ...bounds });
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  async stat(key: string) {
    try {
      const s = await stat(this.pathOf(key));
      return { size: s.size, modifiedAt: s.mtimeMs };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async delete(key: string) {
    await rm(this.pathOf(key), { force: true });
  }

  async *list(prefix: string): AsyncIterable<{ key: string; modifiedAt: number }> {
    const base = prefix ? this.pathOf(prefix.replace(/\/$/, '')) : this.root;
    const walk = async function* (dir: string, rel: string): AsyncGenerator<{ key: string; modifiedAt: number }> {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const e of entries) {
        const childRel = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) yield* walk(join(dir, e.name), childRel);
        else if (e.isFile()) yield { key: childRel, modifiedAt: (await stat(join(dir, e.name))).mtimeMs };
      }
    };
    const relBase = base === this.root ? '' : base.slice(this.root.length + 1).split(sep).join('/');
    yield* walk(base, relBase);
  }

  async check() {
    await access(this.root, constants.W_OK);
    await access(this.tmp, constants.W_OK);
  }
}
