import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';
import { deployFiles } from './helpers/uploads.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => s.stop());

describe('documented client flow', () => {
  it('create deploy → upload → commit → alias → list; second upload sends zero bytes', async () => {
    const files = [{ path: 'index.html', content: '<h1>Hi</h1>' }, { path: 'a/b.css', content: 'h1{}', mime: 'text/css' }];
    const first = await deployFiles(s, { createDeploy: { slug: 'smoke', name: 'Smoke' } }, files, { aliases: ['preview'] });
    expect(first.uploadedBytes).toBeGreaterThan(0);
    const second = await deployFiles(s, { deployId: first.deployId }, files);
    expect(second.missing).toEqual({ uploadSessionId: second.sessionId, missing: [], missingBytes: 0 });
    expect(second.uploadedBytes).toBe(0);
    const alias = await s.request('PUT', `/v1/deploys/${first.deployId}/aliases/production`, { json: { deployVersionId: second.deployVersion.id } });
    expect(alias.status).toBe(200);
    const versions = await s.request('GET', `/v1/deploys/${first.deployId}/versions?limit=1`);
    expect(versions.body.items).toHaveLength(1);
    expect(versions.body.nextCursor).toEqual(expect.any(String));
    const next = await s.request('GET', `/v1/deploys/${first.deployId}/versions?limit=1&cursor=${versions.body.nextCursor}`);
    expect(next.body.items[0].id).toBe(first.deployVersion.id);
    expect(next.body.nextCursor).toBeNull();
  });
});
