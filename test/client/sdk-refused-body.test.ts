import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PressCloud, PressCloudError } from '@press-cloud/sdk';
import { startApiServer } from '../api/helpers.js';
import type { TestServer } from '../helpers/server.js';

/** The SDK never sends again a body the server refused (issue 11, item 6). */
describe('@press-cloud/sdk: a refused body is not retried', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startApiServer();
  });
  afterAll(async () => s.stop());

  const counting = (impl: typeof fetch = fetch) => {
    let calls = 0;
    const f: typeof fetch = (input, init) => {
      calls++;
      return impl(input, init);
    };
    return { f, calls: () => calls };
  };

  it('an oversize create (idempotent, so retry-safe) fails at once with 413 request_body_too_large', async () => {
    const c = counting();
    const client = new PressCloud({ apiBase: s.url, token: s.adminKey, fetch: c.f, retryBaseDelayMs: 1 });
    const err = await client.deploys.create({ slug: 'too-big', name: 'x'.repeat(6 * 1024 * 1024) }).catch((e) => e);
    expect(err).toBeInstanceOf(PressCloudError);
    expect({ status: err.status, code: err.code }).toEqual({ status: 413, code: 'request_body_too_large' });
    expect(c.calls()).toBe(1);
  });

  it('a connection closed while the body was being written (EPIPE) is reported, not retried', async () => {
    const c = counting(async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }) });
    });
    const client = new PressCloud({ apiBase: s.url, token: s.adminKey, fetch: c.f, retryBaseDelayMs: 1 });
    const err = await client.deploys.create({ slug: 'epipe', name: 'x' }).catch((e) => e);
    expect(err).toMatchObject({ status: 0, code: 'network_error' });
    expect(c.calls()).toBe(1);
    // other network failures of a retry-safe request are still retried
    const reset = counting(async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) });
    });
    await new PressCloud({ apiBase: s.url, token: s.adminKey, fetch: reset.f, retryBaseDelayMs: 1 }).deploys.create({ slug: 'reset', name: 'x' }).catch(() => {});
    expect(reset.calls()).toBe(4);
  });
});
