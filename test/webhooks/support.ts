/** Helpers shared by the webhook suites (test/webhooks/*.test.ts): a real HTTP receiver and deploy/job shortcuts. */
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import type { TestServer } from '../helpers/server.js';
import { deployFiles } from '../helpers/uploads.js';

export interface Received {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: any;
}

/** What the receiver answers on a path, given how many requests that path got before (0 for the first). */
export type Behaviour = (n: number) => { status: number; delayMs?: number; headers?: Record<string, string> };

/** A webhook endpoint on 127.0.0.1 that records every request; per-path behaviour, default 200. */
export class Receiver {
  readonly requests: Received[] = [];
  private readonly behaviours = new Map<string, Behaviour>();
  private server!: Server;
  url = '';

  async start() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const path = req.url ?? '/';
        const n = this.on(path).length;
        let body: unknown;
        try {
          body = JSON.parse(raw);
        } catch {
          body = undefined;
        }
        this.requests.push({ path, method: req.method ?? '', headers: req.headers, raw, body });
        const b = (this.behaviours.get(path) ?? ((): ReturnType<Behaviour> => ({ status: 200 })))(n);
        const answer = () => {
          if (res.destroyed) return;
          res.writeHead(b.status, { 'content-type': 'text/plain', ...(b.headers ?? {}) });
          res.end(`answer ${b.status}`);
        };
        if (b.delayMs) setTimeout(answer, b.delayMs).unref();
        else answer();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  behave(path: string, b: Behaviour) {
    this.behaviours.set(path, b);
  }

  on(path: string) {
    return this.requests.filter((r) => r.path === path);
  }

  forJob(jobId: string) {
    return this.requests.filter((r) => r.body?.data?.job?.id === jobId);
  }

  async stop() {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The receiver's check: HMAC-SHA256(secret, `${timestamp}.${rawBody}`), hex, as `v1=`. */
export function expectedSignature(secret: string, timestamp: string, raw: string) {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${raw}`).digest('hex')}`;
}

export const uniqueSlug = (prefix = 'wh') => `${prefix}-${randomBytes(4).toString('hex')}`;

export const APP_FILES = [
  { path: 'index.html', content: '<!doctype html><html><head><meta charset="utf-8"></head><body><h1>Webhook test</h1><p>One page.</p></body></html>' },
  // never signals readiness: a render that stays in flight until canceled
  { path: 'slow.html', content: '<!doctype html><html data-press-wait="manual"><head><meta charset="utf-8"></head><body>waiting</body></html>' },
];

/** Deploys the tiny app as a new deploy; with `hookPath`, enables its webhook to the receiver. Returns the deploy id. */
export async function hookedDeploy(s: TestServer, receiver: Receiver | null, hookPath: string | null, extra: Record<string, unknown> = {}) {
  const { deployId } = await deployFiles(s, { createDeploy: { slug: uniqueSlug(), name: 'webhook test' } }, APP_FILES);
  let settings: any = null;
  if (hookPath && receiver) {
    const res = await s.request('PATCH', `/v1/deploys/${deployId}/settings`, { json: { webhook: { enabled: true, url: `${receiver.url}${hookPath}`, ...extra } } });
    expect(res.status, res.text).toBe(200);
    settings = res.body.settings;
  }
  return { deployId, settings };
}

/** Creates a render job and waits (?wait=30) until it ends. */
export async function renderJob(s: TestServer, deployId: string, body: Record<string, unknown> = {}) {
  const res = await s.request('POST', '/v1/render-jobs?wait=30', { json: { deployId, ...body } });
  expect(res.status, res.text).toBe(202);
  return res.body.job;
}

/** A job that fails at once (entry missing → render_entry_not_found). */
export async function failedJob(s: TestServer, deployId: string) {
  const job = await renderJob(s, deployId, { entry: 'nope.html' });
  expect(job.status).toBe('failed');
  expect(job.error.code).toBe('render_entry_not_found');
  return job;
}

/** The deploy's delivery log (all pages), sorted by attempt. */
export async function deliveries(s: TestServer, deployId: string, key?: string) {
  const res = await s.request('GET', `/v1/deploys/${deployId}/webhook-deliveries?limit=100`, { key });
  expect(res.status, res.text).toBe(200);
  return (res.body.items as any[]).slice().sort((a, b) => a.attempt - b.attempt);
}
