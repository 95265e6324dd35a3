import { expect } from 'vitest';
import { newId, type IdPrefix } from '../../src/domain/ids.js';
import { RenderError, type Renderer } from '../../packages/engine/src/renderer.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The control plane never renders in these tests, so no browser is launched (Chromium start-up would dominate the
 * suite's time). A render job that reached it would fail as an infrastructure error.
 */
export function noRenderer(): Renderer {
  return {
    capacity: 1,
    render: async () => {
      throw new RenderError('render_internal_error', 'control-plane tests run without a renderer');
    },
    status: () => ({ engine: 'none', executablePath: null, version: null, ready: true, restarts: 0, active: 0, queued: 0, contexts: 0, error: null }),
    start: async () => {},
    close: async () => {},
  };
}

/** startTestServer without Chromium. */
export function startApiServer(env: Record<string, string> = {}): Promise<TestServer> {
  return startTestServer(env, { renderer: noRenderer() });
}

export { expectError } from '../helpers/http.js';

/** A well-formed id that names nothing. */
export const unknownId = (prefix: IdPrefix) => newId(prefix);

/**
 * Everything the metadata database holds, for "the plaintext is nowhere in the database" checks: every byte of the
 * SQLite files (main file and WAL), or every PostgreSQL table's rows (distributed backend).
 */
export function databaseBytes(s: TestServer): Promise<Buffer> {
  return s.databaseDump();
}

/** Creates a deploy and returns its id (asserting 201). */
export async function createDeploy(s: TestServer, slug: string, opts: { key?: string; name?: string } = {}): Promise<string> {
  const res = await s.request('POST', '/v1/deploys', { key: opts.key, json: { slug, name: opts.name ?? slug } });
  expect(res.status, res.text).toBe(201);
  return res.body.deploy.id;
}
