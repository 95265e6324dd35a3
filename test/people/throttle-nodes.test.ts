/**
 * Login throttling is shared: two API nodes on one PostgreSQL database count the same failed sign-ins, so spreading
 * guesses over the nodes behind a load balancer gains nothing (before, each process counted its own).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/start/server.js';
import { noRenderer } from '../api/helpers.js';
import { PG_SKIP_REASON, PG_TEST_URL, createTestDatabase } from '../helpers/backends.js';
import { expectError, httpClient } from '../helpers/http.js';

if (!PG_TEST_URL) console.warn(`  ⚠ ${PG_SKIP_REASON}`);

describe('login throttling across API nodes', () => {
  it.skipIf(!PG_TEST_URL)('failures on one node throttle sign-in on the other; a success on either forgets them', async () => {
    const db = await createTestDatabase();
    const dirs: string[] = [];
    const nodes: RunningServer[] = [];
    const env = {
      PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, PRESS_SECRET_KEY: randomBytes(32).toString('hex'), PRESS_PASSWORD_HASH_COST: '12',
    };
    try {
      for (const name of ['a', 'b']) {
        const dir = mkdtempSync(join(tmpdir(), `press-throttle-${name}-`));
        dirs.push(dir);
        nodes.push(await startServer(loadConfig({ ...env, PRESS_DATA_DIR: dir }), { logger: false, renderer: noRenderer() }));
      }
      const [a, b] = nodes.map((n) => httpClient(n.url, '').request);
      const email = 'owner@example.com';
      const password = 'correct horse battery';
      const token = (nodes[0].setupUrl ?? nodes[1].setupUrl)!.split('#token=')[1];
      expect((await a('POST', '/v1/setup', { key: null, json: { token, email, password } })).status).toBe(201);

      const signIn = (node: typeof a, pw: string) => node('POST', '/v1/sessions', { key: null, json: { email, password: pw } });
      // a success on either node forgets the e-mail's failures
      for (let i = 0; i < 4; i++) expectError(await signIn(i % 2 ? b : a, `wrong password ${i}`), 401, 'invalid_credentials');
      expect((await signIn(b, password)).status).toBe(201);
      // five failures spread over both nodes: each node saw fewer than five, together they trip the limit
      for (let i = 0; i < 5; i++) expectError(await signIn(i % 2 ? b : a, `wrong password ${i}`), 401, 'invalid_credentials');
      for (const node of [a, b]) {
        const res = await signIn(node, password);
        expectError(res, 429, 'login_throttled');
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(14 * 60);
      }
    } finally {
      await Promise.all(nodes.map((n) => n.close({ abort: true })));
      await db.drop();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  });
});
