import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.js';
import { expectError, startApiServer } from './helpers.js';

let s: TestServer;
beforeAll(async () => {
  s = await startApiServer({ PRESS_RATE_LIMIT_PER_MINUTE: '3' });
});
afterAll(async () => s.stop());

describe('per-key rate limit (PRESS_RATE_LIMIT_PER_MINUTE=3)', () => {
  it('the 4th request in a minute → 429 rate_limited with Retry-After; other keys and public routes are unaffected', async () => {
    for (let i = 0; i < 3; i++) expect((await s.request('GET', '/v1/account')).status).toBe(200);
    const limited = await s.request('GET', '/v1/account');
    expectError(limited, 429, 'rate_limited');
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);

    const other = await s.newAccount('other');
    expect((await s.request('GET', '/v1/account', { key: other.keys.viewer })).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await s.request('GET', '/healthz', { key: null })).status).toBe(200);
  });
});
