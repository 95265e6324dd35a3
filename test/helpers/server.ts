import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config.js';
import { createAccount, issueApiKey } from '../../src/domain/accounts.js';
import { ManualClock } from '../../src/domain/clock.js';
import type { PlanKey } from '../../src/domain/policy.js';
import type { Role } from '../../src/ports/metadata-store.js';
import type { Renderer } from '../../src/ports/renderer.js';
import { startServer, type RunningServer } from '../../src/start/server.js';

export interface TestServer extends RunningServer {
  clock: ManualClock;
  dataDir: string;
  /** admin key of the bootstrap account */
  adminKey: string;
  /** real HTTP request to the running server; JSON bodies are encoded, responses parsed */
  request(method: string, path: string, opts?: RequestOpts): Promise<TestResponse>;
  /** a new account with one key per role */
  newAccount(name: string, plan?: PlanKey): Promise<{ accountId: string; keys: Record<Role, string> }>;
  stop(): Promise<void>;
}

export interface RequestOpts {
  key?: string | null;
  json?: unknown;
  body?: string | Buffer;
  headers?: Record<string, string>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/**
 * Starts the real server (SQLite + disk in a temp dir, listening on a free port) with a manual clock.
 * `env` overrides configuration as the environment would; `opts.renderer` replaces Chromium (control-plane tests
 * pass one that never launches a browser).
 */
export async function startTestServer(env: Record<string, string> = {}, opts: { renderer?: Renderer } = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'press-test-'));
  const config: Config = loadConfig({ PORT: '0', HOST: '127.0.0.1', PRESS_DATA_DIR: dataDir, PRESS_WEBHOOK_ALLOW_PRIVATE: 'true', ...env });
  const clock = new ManualClock(Date.now());
  const server = await startServer(config, { clock, logger: false, renderer: opts.renderer });
  const adminKey = server.bootstrapKey!;

  const request = async (method: string, path: string, opts: RequestOpts = {}): Promise<TestResponse> => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const key = opts.key === undefined ? adminKey : opts.key;
    if (key !== null) headers.authorization ??= `Bearer ${key}`;
    let body: string | Buffer | undefined = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${server.url}${path}`, { method, headers, body: body as BodyInit | undefined });
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  };

  return {
    ...server,
    clock,
    dataDir,
    adminKey,
    request,
    async newAccount(name: string, plan?: PlanKey) {
      const account = await createAccount(server.deps, { name, planKey: plan });
      const keys = {} as Record<Role, string>;
      for (const role of ['admin', 'editor', 'viewer'] as const) keys[role] = (await issueApiKey(server.deps, account.id, { name: role, role })).key;
      return { accountId: account.id, keys };
    },
    async stop() {
      await server.close({ abort: true });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
