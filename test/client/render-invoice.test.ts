import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runProcess } from '../helpers/processes.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** examples/render-invoice.sh, the README's first PDF, as a user runs it. */
const script = (env: Record<string, string>, out: string) =>
  runProcess('bash', [join(ROOT, 'examples/render-invoice.sh'), out], { env: { ...process.env, ...env } });

describe('examples/render-invoice.sh', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('deploys, renders and saves the invoice; a wrong key or a server that is down prints the cause in one line', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'press-example-')), 'invoice.pdf');
    const ok = await script({ PRESS_CLOUD_API: s.url, PRESS_CLOUD_TOKEN: s.adminKey }, out);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`saved ${out}`);
    expect(readFileSync(out).subarray(0, 5).toString()).toBe('%PDF-');

    const wrong = await script({ PRESS_CLOUD_API: s.url, PRESS_CLOUD_TOKEN: 'pcak_wrong-key-0000000000000000000000000000000' }, out);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe('render-invoice.sh: GET /v1/deploys?limit=100 answered 401: invalid_api_key: The API key is not recognised.\n');

    const down = await script({ PRESS_CLOUD_API: 'http://127.0.0.1:9', PRESS_CLOUD_TOKEN: s.adminKey }, out);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^render-invoice\.sh: cannot reach http:\/\/127\.0\.0\.1:9 \(curl: \(7\) .*\); is the server running \(npm start\)\?\n$/);
  }, 120_000);
});
