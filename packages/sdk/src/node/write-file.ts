/** Node-only: stream a web ReadableStream to a file, atomically (temp file, then rename). */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebStream } from 'node:stream/web';

export async function writeStreamToFile(body: ReadableStream<Uint8Array>, to: string): Promise<{ path: string; bytes: number }> {
  const path = resolve(to);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(4).toString('hex')}.part`;
  try {
    await pipeline(Readable.fromWeb(body as NodeWebStream<Uint8Array>), createWriteStream(tmp));
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return { path, bytes: (await stat(path)).size };
}
