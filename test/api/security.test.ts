import { statSync, rmSync, mkdtempSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../packages/engine/src/canonical-json.js';
import type { Role } from '../../src/model/records.js';
import { startTestServer, TEST_BACKEND, type TestResponse, type TestServer } from '../helpers/server.js';
import { manifest } from '../helpers/uploads.js';
import { expectError, noRenderer, startApiServer } from './helpers.js';

type Account = { accountId: string; keys: Record<Role, string> };
const ik = (key: string) => ({ 'idempotency-key': key });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw HTTP/1.1 exchange on its own socket: what a slow or misbehaving client does. */
function rawClient(url: string) {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  let received = '';
  let closedAt: number | null = null;
  socket.on('data', (d) => (received += d.toString('latin1')));
  socket.on('error', () => {});
  socket.on('close', () => (closedAt = Date.now()));
  const ready = new Promise<void>((r) => socket.once('connect', () => r()));
  return {
    socket,
    ready,
    write: (s: string | Buffer) => new Promise<void>((r) => (socket.destroyed ? r() : socket.write(s, () => r()))),
    get received() {
      return received;
    },
    get closedAt() {
      return closedAt;
    },
    /** resolves once a whole response (head + Content-Length body) arrived */
    async response(timeoutMs = 10_000): Promise<{ status: number; headers: string; body: any }> {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const head = received.indexOf('\r\n\r\n');
        if (head >= 0) {
          const len = Number(/content-length: (\d+)/i.exec(received.slice(0, head))?.[1] ?? 0);
          if (received.length >= head + 4 + len) {
            return { status: Number(received.slice(9, 12)), headers: received.slice(0, head), body: JSON.parse(received.slice(head + 4, head + 4 + len)) };
          }
        }
        if (Date.now() > end) throw new Error(`no response within ${timeoutMs} ms; got ${JSON.stringify(received.slice(0, 200))}`);
        await sleep(20);
      }
    },
    async closed(timeoutMs: number) {
      const end = Date.now() + timeoutMs;
      while (closedAt === null && Date.now() < end) await sleep(20);
      return closedAt !== null;
    },
  };
}

describe('Idempotency-Key: authentication and the role check run before a replay; stored responses are per API key', () => {
  let s: TestServer;
  let a: Account;
  beforeAll(async () => {
    s = await startApiServer();
    a = await s.newAccount('idem');
  });
  afterAll(async () => s.stop());

  it('a viewer or editor replaying an admin\'s POST /v1/api-keys gets 403, never the key; a wrong body or an unused key is 403 too', async () => {
    const body = { name: 'deploy bot', role: 'admin' };
    const first = await s.request('POST', '/v1/api-keys', { key: a.keys.admin, json: body, headers: ik('K1') });
    expect(first.status).toBe(201);
    for (const role of ['viewer', 'editor'] as const) {
      for (const [json, k] of [[body, 'K1'], [{ ...body, name: 'other' }, 'K1'], [body, 'never-used']] as const) {
        const res = await s.request('POST', '/v1/api-keys', { key: a.keys[role], json, headers: ik(k) });
        expectError(res, 403, 'insufficient_permission');
        expect(res.headers.get('idempotent-replayed')).toBeNull();
        expect(res.text).not.toContain(first.body.key);
      }
    }
  });

  it('a viewer replaying an editor\'s upload-session create gets 403, never the upload token', async () => {
    const deploy = await s.request('POST', '/v1/deploys', { key: a.keys.editor, json: { slug: 'idem-up', name: 'x' } });
    const body = { deployId: deploy.body.deploy.id, files: manifest([{ path: 'index.html', content: '<p>x</p>' }]) };
    const first = await s.request('POST', '/v1/upload-sessions', { key: a.keys.editor, json: body, headers: ik('K2') });
    expect(first.body.uploadToken).toMatch(/^ustk_/);
    const replay = await s.request('POST', '/v1/upload-sessions', { key: a.keys.viewer, json: body, headers: ik('K2') });
    expectError(replay, 403, 'insufficient_permission');
    expect(replay.text).not.toContain(first.body.uploadToken);
  });

  it('another key with the same role and Idempotency-Key runs as a new request (its own response, its own token)', async () => {
    const second = (await s.request('POST', '/v1/api-keys', { key: a.keys.admin, json: { name: 'second editor', role: 'editor' } })).body.key as string;
    const deploy = await s.request('POST', '/v1/deploys', { key: a.keys.editor, json: { slug: 'idem-up2', name: 'x' } });
    const body = { deployId: deploy.body.deploy.id, files: manifest([{ path: 'index.html', content: '<p>y</p>' }]) };
    const first = await s.request('POST', '/v1/upload-sessions', { key: a.keys.editor, json: body, headers: ik('K3') });
    const other = await s.request('POST', '/v1/upload-sessions', { key: second, json: body, headers: ik('K3') });
    expect(other.status).toBe(201);
    expect(other.headers.get('idempotent-replayed')).toBeNull();
    expect(other.body.uploadSession.id).not.toBe(first.body.uploadSession.id);
    expect(other.body.uploadToken).not.toBe(first.body.uploadToken);
    // the first key still replays its own
    const again = await s.request('POST', '/v1/upload-sessions', { key: a.keys.editor, json: body, headers: ik('K3') });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
  });
});

describe('rate limit: keyed on the resolved API key; requests without a valid key count per client address', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startApiServer({ PRESS_RATE_LIMIT_PER_MINUTE: '4' });
  });
  afterAll(async () => s.stop());

  it('"bearer", "BEARER", double spaces and tabs are the same key: the 5th request is 429', async () => {
    const a = await s.newAccount('spell');
    const spellings = [`Bearer ${a.keys.viewer}`, `bearer ${a.keys.viewer}`, `BEARER  ${a.keys.viewer}`, `Bearer\t${a.keys.viewer}`];
    for (const auth of spellings) expect((await s.request('GET', '/v1/account', { key: null, headers: { authorization: auth } })).status).toBe(200);
    const limited = await s.request('GET', '/v1/account', { key: null, headers: { authorization: `bEaReR   ${a.keys.viewer}` } });
    expectError(limited, 429, 'rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // another key of the account has its own budget
    expect((await s.request('GET', '/v1/account', { key: a.keys.editor })).status).toBe(200);
  });

  it('missing and bad keys are counted per address: the 5th is 429, whatever key is tried', async () => {
    const tries = [null, 'pcak_' + 'x'.repeat(30), 'nonsense', 'pcak_' + 'y'.repeat(30)];
    for (const key of tries) expect((await s.request('GET', '/v1/deploys', { key })).status).toBe(401);
    expectError(await s.request('GET', '/v1/deploys', { key: 'pcak_' + 'z'.repeat(30) }), 429, 'rate_limited');
  });
});

describe('request bodies: time and memory bounds; connections answered while the client still sends are closed', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startApiServer({ PRESS_BODY_TIMEOUT_SECONDS: '1', PRESS_BODY_MEMORY_MIB: '1' });
  });
  afterAll(async () => s.stop());

  const head = (path: string, length: number, key: string | null) =>
    `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n${key ? `Authorization: Bearer ${key}\r\n` : ''}\r\n`;

  it('a body that does not arrive within the timeout → 408 request_timeout, then the connection is closed', async () => {
    const c = rawClient(s.url);
    await c.ready;
    await c.write(head('/v1/deploys', 1000, s.adminKey) + '{"slug":');
    const started = Date.now();
    const res = await c.response(5_000);
    expect(res.status).toBe(408);
    expect(res.body).toEqual({ error: 'request_timeout', message: expect.any(String) });
    expect(Date.now() - started).toBeLessThan(4_000);
    // the client keeps trickling: the server closes anyway
    const trickle = setInterval(() => void c.write(' '), 200);
    try {
      expect(await c.closed(5_000)).toBe(true);
    } finally {
      clearInterval(trickle);
    }
  });

  it('unfinished JSON bodies share a memory budget: one over it → 503 service_unavailable with Retry-After', async () => {
    const first = rawClient(s.url);
    await first.ready;
    await first.write(head('/v1/deploys', 1_000_000, s.adminKey) + '{"name":"' + 'a'.repeat(700_000));
    await sleep(200);
    const second = rawClient(s.url);
    await second.ready;
    await second.write(head('/v1/deploys', 1_000_000, s.adminKey) + '{"name":"' + 'b'.repeat(700_000));
    const res = await second.response(5_000);
    expect(res.status).toBe(503);
    expect(res.body.error).toBe('service_unavailable');
    expect(res.headers).toMatch(/retry-after: \d+/i);
    first.socket.destroy();
    second.socket.destroy();
    await sleep(200);
    // released: a normal request goes through
    expect((await s.request('POST', '/v1/deploys', { json: { slug: 'after-budget', name: 'x', padding: 'x'.repeat(600_000) } })).status).toBe(201);
  });

  it('an unauthenticated slow body gets its 401 and the connection is closed within seconds, not kept open', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, async () => {
      const c = rawClient(s.url);
      await c.ready;
      await c.write(head('/v1/deploys', 5_000_000, null) + '{"slug":"');
      return c;
    }));
    const trickle = setInterval(() => clients.forEach((c) => void c.write('x')), 300);
    try {
      for (const c of clients) expect((await c.response()).status).toBe(401);
      const started = Date.now();
      const closed = await Promise.all(clients.map((c) => c.closed(6_000)));
      expect(closed.every(Boolean)).toBe(true);
      expect(Date.now() - started).toBeLessThan(6_000);
    } finally {
      clearInterval(trickle);
    }
  });
});

describe('oversize bodies: 413 *_too_large that the client reliably reads', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startApiServer();
  });
  afterAll(async () => s.stop());

  /** node:http, writing the whole body like a naive client: did it get the answer, or a broken pipe? */
  const post = (path: string, body: Buffer, chunked = false) =>
    new Promise<{ status: number; body: any } | { error: string }>((resolve) => {
      const { hostname, port } = new URL(s.url);
      const req = httpRequest({
        host: hostname, port, path, method: 'POST',
        headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/json', ...(chunked ? {} : { 'content-length': body.length }) },
      }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
        res.on('error', (e) => resolve({ error: e.message }));
      });
      req.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
      const src = new PassThrough();
      src.pipe(req);
      for (let i = 0; i < body.length; i += 64 * 1024) src.write(body.subarray(i, i + 64 * 1024));
      src.end();
    });

  it('15 clients sending 6 MiB to a 1 MiB route all read 413 request_body_too_large (Content-Length and chunked)', async () => {
    const big = Buffer.from(JSON.stringify({ slug: 'big', name: 'x'.repeat(6 * 1024 * 1024) }));
    const results = await Promise.all(Array.from({ length: 15 }, (_, i) => post('/v1/deploys', big, i % 2 === 1)));
    expect(results).toEqual(Array(15).fill({ status: 413, body: { error: 'request_body_too_large', message: expect.any(String) } }));
  });

  it('each route names its own code: upload sessions → upload_session_too_large, render jobs → render_payload_too_large', async () => {
    expect(await post('/v1/upload-sessions', Buffer.alloc(5 * 1024 * 1024, 32))).toEqual({ status: 413, body: { error: 'upload_session_too_large', message: expect.any(String) } });
    expect(await post('/v1/render-jobs', Buffer.alloc(17 * 1024 * 1024, 32))).toEqual({ status: 413, body: { error: 'render_payload_too_large', message: expect.any(String) } });
  });
});

describe('malformed input never reaches a 500', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startApiServer();
  });
  afterAll(async () => s.stop());

  it('JSON nested 3 000 levels deep → 400 invalid_input (render job payload and any other body)', async () => {
    const deep = '['.repeat(3000) + ']'.repeat(3000);
    const job = await s.request('POST', '/v1/render-jobs', { body: `{"deployId":"dpl_abc123","payload":${deep}}`, headers: { 'content-type': 'application/json' } });
    expectError(job, 400, 'invalid_input');
    expect(job.body.message).toMatch(/levels deep/);
    const obj = '{"a":'.repeat(3000) + '1' + '}'.repeat(3000);
    expectError(await s.request('PATCH', '/v1/account', { body: obj, headers: { 'content-type': 'application/json' } }), 400, 'invalid_input');
    // 100 levels are fine
    const ok = await s.request('POST', '/v1/render-jobs', { body: `{"deployId":"dpl_abc123","payload":${'['.repeat(99) + ']'.repeat(99)}}`, headers: { 'content-type': 'application/json' } });
    expectError(ok, 404, 'deploy_not_found');
  });

  it('canonical JSON does not recurse: a value nested 100 000 levels deep serialises', () => {
    let v: unknown = 1;
    for (let i = 0; i < 100_000; i++) v = i % 2 ? [v] : { k: v };
    expect(canonicalJson(v).length).toBeGreaterThan(400_000);
    expect(canonicalJson({ b: [1, undefined, { d: null, c: 'x' }], a: true, u: undefined })).toBe('{"a":true,"b":[1,null,{"c":"x","d":null}]}');
  });

  const rawGet = (path: string) =>
    new Promise<TestResponse>((resolve, reject) => {
      const { hostname, port } = new URL(s.url);
      httpRequest({ host: hostname, port, path, method: 'GET' }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: new Headers(res.headers as Record<string, string>), body: JSON.parse(text), text }));
      }).on('error', reject).end();
    });

  it('path traversal on /docs/static (as sent, and with %2f) → 404 route_not_found with the normal error body', async () => {
    for (const path of ['/docs/static/../../../../etc/passwd', '/docs/static/..%2f..%2f..%2f..%2fetc%2fpasswd', '/docs/static/%2e%2e/%2e%2e/package.json']) {
      const res = await rawGet(path);
      expectError(res, 404, 'route_not_found');
      expect(res.text).not.toMatch(/root:|GET is not allowed/);
    }
  });

  it('a manifest mime or payloadMime that is not a media type (CR/LF, no subtype) → 400 invalid_input', async () => {
    const deploy = await s.request('POST', '/v1/deploys', { json: { slug: 'mime', name: 'x' } });
    for (const mime of ['text/html\r\nX-Injected: 1', 'text/html\n', 'html', 'text/html; charset']) {
      const files = manifest([{ path: 'index.html', content: '<p>x</p>', mime }]);
      expectError(await s.request('POST', '/v1/upload-sessions', { json: { deployId: deploy.body.deploy.id, files } }), 400, 'invalid_input');
      expectError(await s.request('POST', '/v1/render-jobs', { json: { deployId: deploy.body.deploy.id, payloadMime: mime, payload: 'x' } }), 400, 'invalid_input');
    }
    const ok = manifest([{ path: 'index.html', content: '<p>x</p>', mime: 'text/html; charset="utf-8"' }]);
    expect((await s.request('POST', '/v1/upload-sessions', { json: { deployId: deploy.body.deploy.id, files: ok } })).status).toBe(201);
  });
});

describe('secrets in logs and at rest', () => {
  it('signed link signatures are redacted in the request log', async () => {
    const lines: string[] = [];
    const logStream = new PassThrough();
    logStream.on('data', (d) => lines.push(d.toString()));
    const s = await startTestServer({}, { renderer: noRenderer(), logStream });
    try {
      const sig = 'a'.repeat(43) + 'SECRETSIG';
      const q = `account=acct_${'A'.repeat(26)}&disposition=inline&expires=9999999999999&signature=${sig}`;
      await s.request('GET', `/v1/signed/pdfs/pdf_${'B'.repeat(26)}?${q}`, { key: null });
      await s.request('GET', `/v1/signed/render-jobs/rj_${'C'.repeat(26)}/output?${q}`, { key: null });
      const log = lines.join('');
      expect(log).toContain('/v1/signed/pdfs/');
      expect(log).toContain('signature=[redacted]');
      expect(log).not.toContain('SECRETSIG');
    } finally {
      await s.stop();
    }
  });

  it.skipIf(TEST_BACKEND !== 'embedded')('a new data dir is 0700 and press.db (and its WAL) 0600', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'press-modes-'));
    const dataDir = join(parent, 'nested', 'data');
    const s = await startTestServer({ PRESS_DATA_DIR: dataDir }, { renderer: noRenderer() });
    try {
      await s.request('POST', '/v1/deploys', { json: { slug: 'modes', name: 'x' } });
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      for (const f of ['press.db', 'press.db-wal', 'secret.key']) expect((statSync(join(dataDir, f)).mode & 0o777).toString(8), f).toBe('600');
    } finally {
      await s.stop();
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
