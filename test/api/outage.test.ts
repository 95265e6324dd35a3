import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, PG_SKIP_REASON, PG_TEST_URL } from '../helpers/backends.js';
import { startS3Server } from '../helpers/s3-server.js';
import type { TestServer } from '../helpers/server.js';
import { manifest } from '../helpers/uploads.js';
import { expectError, startApiServer } from './helpers.js';

/**
 * A dependency that is down answers 503 service_unavailable with Retry-After (spec §9.2), never 500. Each test takes
 * down a dependency of its own (a throwaway S3 server, a TCP proxy in front of PostgreSQL), never a shared one.
 */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

function expectUnavailable(res: Awaited<ReturnType<TestServer['request']>>) {
  expectError(res, 503, 'service_unavailable');
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
}

/** A TCP proxy we can cut: every connection through it, and new ones, fail as if the server went away. */
async function tcpProxy(target: URL): Promise<{ port: number; cut(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    cut: async () => {
      await new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

describe('dependency outages → 503 service_unavailable + Retry-After', () => {
  it('object storage down (the test\'s own S3 server stopped): a blob upload answers 503', async () => {
    const s3 = await startS3Server();
    cleanups.push(() => s3.stop());
    const s = await startApiServer({ ...s3.env });
    cleanups.push(() => s.stop());
    const files = [{ path: 'index.html', content: `<p>${Math.random()}</p>` }];
    const m = manifest(files);
    const created = await s.request('POST', '/v1/upload-sessions', { json: { createDeploy: { slug: 'outage', name: 'x' }, files: m } });
    expect(created.status).toBe(201);
    await s3.stop();
    const put = await s.request('PUT', `/v1/upload-sessions/${created.body.uploadSession.id}/blobs/${m[0].sha256}`, {
      headers: { 'x-upload-token': created.body.uploadToken, 'content-type': 'application/octet-stream' }, body: files[0].content,
    });
    expectUnavailable(put);
    expect((await s.request('GET', '/readyz', { key: null })).status).toBe(503);
  });

  it.skipIf(!PG_TEST_URL)('the database down (a proxy in front of PostgreSQL cut): authenticated requests answer 503', async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const proxy = await tcpProxy(new URL(db.url));
    const url = new URL(db.url);
    cleanups.push(() => proxy.cut());
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const s = await startApiServer({ DATABASE_URL: url.toString(), PRESS_SECRET_KEY: randomBytes(32).toString('hex') });
    cleanups.push(() => s.stop());
    expect((await s.request('GET', '/v1/deploys')).status).toBe(200);
    await proxy.cut();
    expectUnavailable(await s.request('GET', '/v1/deploys'));
    expectUnavailable(await s.request('POST', '/v1/deploys', { json: { slug: 'down', name: 'x' } }));
    expect((await s.request('GET', '/readyz', { key: null })).status).toBe(503);
  });
  if (!PG_TEST_URL) it.skip(PG_SKIP_REASON, () => {});
});
