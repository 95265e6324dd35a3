import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore } from '../../src/adapters/fs-blob/fs-blob-store.js';

/*
 * What only the disk store can get wrong: a key is a path, so a hostile one must never reach outside the storage
 * directory. Everything a BlobStore promises is in test/contract/blob-store.test.ts, which runs on this store too.
 */

let dir: string;
let store: FsBlobStore;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'press-fsblob-'));
  store = new FsBlobStore(join(dir, 'storage'));
  await store.init();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** every file anywhere under `dir`, relative */
function allFiles(d = dir, rel = ''): string[] {
  return readdirSync(d, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? allFiles(join(d, e.name), `${rel}${e.name}/`) : [`${rel}${e.name}`]);
}

describe('FsBlobStore: keys are paths', () => {
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
});
