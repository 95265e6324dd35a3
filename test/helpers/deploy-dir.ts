import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { TestServer } from './server.js';
import { deployFiles, type TestFile } from './uploads.js';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
};

/** Every file under `dir` (recursively) as upload files with POSIX paths and a mime by extension. */
export function filesOf(dir: string, opts: { exclude?: (path: string) => boolean } = {}): TestFile[] {
  const out: TestFile[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else {
        const path = relative(dir, full).split(sep).join('/');
        if (opts.exclude?.(path)) continue;
        out.push({ path, content: readFileSync(full), mime: MIME[extname(name).toLowerCase()] ?? 'application/octet-stream' });
      }
    }
  };
  walk(dir);
  return out;
}

/**
 * Deploys a directory from disk through the documented upload flow (session → missing-blobs → PUT → commit),
 * into a new deploy (`slug`) or an existing one (`deployId`).
 */
export async function deployDir(
  server: TestServer,
  dir: string,
  target: { slug: string; name?: string } | { deployId: string },
  opts: { key?: string; aliases?: string[]; exclude?: (path: string) => boolean } = {},
) {
  const files = filesOf(dir, { exclude: opts.exclude });
  const t = 'slug' in target ? { createDeploy: { slug: target.slug, name: target.name ?? target.slug } } : target;
  const res = await deployFiles(server, t, files, { key: opts.key, aliases: opts.aliases });
  return { ...res, deployVersionId: res.deployVersion.id as string, files };
}
