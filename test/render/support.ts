import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { httpClient, type Requester } from '../helpers/http.js';
import { PRESS_CLOUD_FROM_SOURCE, ROOT } from '../helpers/processes.js';
import type { TestServer } from '../helpers/server.js';
import { sleep } from '../helpers/wait.js';

export { expectError, unknownId } from '../api/helpers.js';

/** The probe app: index.html, payload.html, env.html, slow.html, never.html, network.html. */
export const PROBE_DIR = fileURLToPath(new URL('../fixtures/http-apps/probe/', import.meta.url));
export const INVOICE_DIR = fileURLToPath(new URL('../../examples/invoice/', import.meta.url));

export { httpClient, sleep, type Requester };

export const TERMINAL = ['succeeded', 'failed', 'canceled'];

/** POST /v1/render-jobs, asserting 202; returns the job view. */
export async function createJob(s: Requester, body: Record<string, unknown>, opts: { key?: string; wait?: number } = {}) {
  const res = await s.request('POST', `/v1/render-jobs${opts.wait ? `?wait=${opts.wait}` : ''}`, { key: opts.key, json: body });
  expect(res.status, res.text).toBe(202);
  expect(res.body.accepted).toBe(true);
  expect(res.body.queue).toBe('default');
  return res.body.job;
}

/** Long-polls GET /v1/render-jobs/{id}?wait= until the job is terminal (or `timeoutMs` passes: then fails). */
export async function waitTerminal(s: Requester, jobId: string, opts: { key?: string; timeoutMs?: number } = {}) {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    const left = Math.max(1, Math.min(10, Math.ceil((deadline - Date.now()) / 1000)));
    const res = await s.request('GET', `/v1/render-jobs/${jobId}?wait=${left}`, { key: opts.key });
    expect(res.status, res.text).toBe(200);
    if (TERMINAL.includes(res.body.job.status)) return res.body.job;
    if (Date.now() >= deadline) throw new Error(`job ${jobId} still ${res.body.job.status} after ${opts.timeoutMs ?? 30_000} ms`);
  }
}

/** Polls GET /v1/render-jobs/{id} every 50 ms until `status` (fails on a terminal status or after `timeoutMs`). */
export async function waitStatus(s: Requester, jobId: string, status: string, opts: { key?: string; timeoutMs?: number } = {}) {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  for (;;) {
    const res = await s.request('GET', `/v1/render-jobs/${jobId}`, { key: opts.key });
    expect(res.status, res.text).toBe(200);
    const job = res.body.job;
    if (job.status === status) return job;
    if (TERMINAL.includes(job.status) && !TERMINAL.includes(status)) throw new Error(`job ${jobId} ended ${job.status} while waiting for ${status}: ${JSON.stringify(job.error)}`);
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status}, waited for ${status}`);
    await sleep(50);
  }
}

/** Raw bytes of an authenticated or signed GET. */
export async function fetchBytes(url: string, key?: string | null) {
  const res = await fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body };
}

export async function getOutput(s: TestServer, jobId: string, key?: string) {
  return fetchBytes(`${s.url}/v1/render-jobs/${jobId}/output`, key ?? s.adminKey);
}


/**
 * Objects under `<prefix>/`, as keys relative to it: of a test server's blob store, whichever backend it runs on
 * (disk or S3; async), or of an embedded data directory on disk (`<dataDir>/storage/objects/<prefix>`, sync).
 */
export function storedObjects(server: Pick<TestServer, 'storedKeys'>, prefix: 'outputs' | 'pdfs'): Promise<string[]>;
export function storedObjects(dataDir: string, prefix: 'outputs' | 'pdfs'): string[];
export function storedObjects(where: string | Pick<TestServer, 'storedKeys'>, prefix: 'outputs' | 'pdfs'): string[] | Promise<string[]> {
  if (typeof where !== 'string') return where.storedKeys(prefix).then((keys) => keys.map((k) => k.slice(prefix.length + 1)));
  const dataDir = where;
  const root = join(dataDir, 'storage', 'objects', prefix);
  if (!existsSync(root)) return [];
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full, `${rel}${name}/`);
      else out.push(`${rel}${name}`);
    }
  };
  walk(root, '');
  return out;
}

/** Starts `press-cloud serve` as a real child process; resolves with its URL and the bootstrap admin key. */
export async function spawnServe(dataDir: string, backendEnv: Record<string, string>, extraEnv: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string; key: string; stderr: () => string }> {
  const child = spawn(process.execPath, [...PRESS_CLOUD_FROM_SOURCE, 'serve'], {
    cwd: ROOT,
    env: { ...process.env, ...backendEnv, PORT: '0', HOST: '127.0.0.1', PRESS_DATA_DIR: dataDir, PRESS_JOB_LEASE_SECONDS: '2', LOG_LEVEL: 'warn', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stdout!.resume();
  const ready = new Promise<{ url: string; key: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`press-cloud serve did not start:\n${err}`)), 30_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const url = /PRESS_CLOUD_API=(\S+)/.exec(err)?.[1];
      const key = /PRESS_CLOUD_TOKEN=(pcak_\S+)/.exec(err)?.[1];
      if (url && key) {
        clearTimeout(timer);
        resolve({ url, key });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`press-cloud serve exited (${code}):\n${err}`));
    });
  });
  const { url, key } = await ready;
  return { child, url, key, stderr: () => err };
}
