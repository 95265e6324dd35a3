/**
 * Node-only: the files of a local directory as a deploy sees them. Used by `deployDirectory` and by the CLI's
 * local renders, so a local render serves exactly the files an upload would send, with the same mime types.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { mimeType } from '../mime.js';

export interface LocalFile {
  /** relative POSIX path, e.g. `fonts/inter.woff2` */
  path: string;
  /** absolute path on disk */
  absPath: string;
  size: number;
  mime: string;
}

export interface ListOptions {
  /** extra paths (relative POSIX) to leave out, besides hidden files and node_modules */
  exclude?: (path: string) => boolean;
}

/** Hidden entries (`.git`, `.dev.vars`, `.DS_Store`…) and `node_modules` are never part of a deploy. */
export function isIgnoredByDefault(path: string): boolean {
  return path.split('/').some((seg) => seg.startsWith('.') || seg === 'node_modules');
}

/** Every regular file under `dir` (symlinks followed), sorted by path. */
export async function listFiles(dir: string, opts: ListOptions = {}): Promise<LocalFile[]> {
  const out: LocalFile[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = (await readdir(d)).sort();
    for (const name of entries) {
      const absPath = join(d, name);
      const path = relative(dir, absPath).split(sep).join('/');
      if (isIgnoredByDefault(path) || opts.exclude?.(path)) continue;
      const st = await stat(absPath);
      if (st.isDirectory()) await walk(absPath);
      else if (st.isFile()) out.push({ path, absPath, size: st.size, mime: mimeType(path) });
    }
  };
  const root = await stat(dir).catch(() => null);
  if (!root?.isDirectory()) throw new Error(`${dir} is not a directory`);
  await walk(dir);
  return out;
}

/** The lowercase hex sha256 of a file, read as a stream (constant memory). */
export function hashFile(absPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(absPath)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Runs `fn` over `items` with at most `limit` at once; rejects with the first failure (after the others settle). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed: { err: unknown } | null = null;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw (failed as { err: unknown }).err;
  return results;
}
