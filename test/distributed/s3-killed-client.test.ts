/**
 * The S3 test server must survive what the cluster test does to it: a node SIGKILLed in the middle of a PutObject
 * body. s3rver waits for the body forever and the helper serialises writes, so before the fix one dead client
 * stalled every later write (all workers hung in `put`, the cluster stopped).
 */
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore } from '../../src/adapters/s3/s3-blob-store.js';
import { loadConfig } from '../../src/config.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { sleep } from './support.js';

describe('the S3 test server and a client killed mid-upload', () => {
  let s3: S3TestServer;
  beforeAll(async () => {
    s3 = await startS3Server({ bucket: 'press-killed-client' });
  });
  afterAll(async () => s3?.stop());

  it('keeps accepting writes from everyone else', async () => {
    // a PUT announcing 1 MB, sending 10 bytes, then the connection is cut (the process died)
    const url = new URL(`${s3.endpoint}/${s3.bucket}/tmp/dying-upload`);
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'PUT', headers: { 'content-length': '1000000' } });
    req.on('error', () => {});
    req.write(Buffer.alloc(10));
    await sleep(200);
    req.destroy();

    const store = new S3BlobStore(loadConfig(s3.env).s3!);
    const t0 = Date.now();
    await store.put('outputs/aa/after-the-dead-client.pdf', Readable.from([Buffer.from('%PDF-1.4 fine')]));
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await store.stat('outputs/aa/after-the-dead-client.pdf')).toMatchObject({ size: 13 });
  }, 20_000);
});
