import { expect } from 'vitest';
import type { RequestOpts, TestResponse, TestServer } from '../helpers/server.js';
import { startApiServer } from '../api/helpers.js';

export { expectError } from '../api/helpers.js';

/** A control-plane server whose password hashes are cheap (scrypt N = 2^12): the tests hash many passwords. */
export function startPeopleServer(env: Record<string, string> = {}): Promise<TestServer> {
  return startApiServer({ PRESS_PASSWORD_HASH_COST: '12', ...env });
}

/**
 * A browser's view of the API: keeps the session cookie, sends the CSRF token on writes and the chosen workspace in
 * Press-Workspace, like the dashboard will.
 */
export class Browser {
  cookie: string | null = null;
  csrfToken: string | null = null;
  workspace: string | null = null;
  userId: string | null = null;

  constructor(readonly s: TestServer, readonly email: string, readonly password: string) {}

  async request(method: string, path: string, opts: RequestOpts & { csrf?: boolean; workspace?: string | null } = {}): Promise<TestResponse> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (this.cookie) headers.cookie = this.cookie;
    const write = !['GET', 'HEAD'].includes(method);
    if (write && this.csrfToken && opts.csrf !== false) headers['x-csrf-token'] ??= this.csrfToken;
    const workspace = opts.workspace === undefined ? this.workspace : opts.workspace;
    if (workspace) headers['press-workspace'] ??= workspace;
    const res = await this.s.request(method, path, { ...opts, key: null, headers });
    this.keep(res);
    return res;
  }

  /** takes the session cookie and CSRF token from a sign-in style response */
  keep(res: TestResponse) {
    const set = res.headers.get('set-cookie');
    if (set) {
      const value = /press_session=([^;]*)/.exec(set)?.[1] ?? '';
      this.cookie = value ? `press_session=${value}` : null;
    }
    if (res.body?.csrfToken) this.csrfToken = res.body.csrfToken;
    if (res.body?.user?.id) this.userId = res.body.user.id;
  }

  async signIn(): Promise<TestResponse> {
    const res = await this.request('POST', '/v1/sessions', { json: { email: this.email, password: this.password } });
    expect(res.status, res.text).toBe(201);
    return res;
  }
}

export function setupToken(s: TestServer): string {
  expect(s.setupUrl).toMatch(/\/setup#token=pcsetup_/);
  return s.setupUrl!.split('#token=')[1];
}

/** Completes the first-run setup: the owner of `default` (and of their personal workspace), signed in. */
export async function setupOwner(s: TestServer, email = 'owner@example.com', password = 'correct horse battery'): Promise<Browser> {
  const b = new Browser(s, email, password);
  const res = await b.request('POST', '/v1/setup', { json: { token: setupToken(s), email, password, name: 'Olivia Owner' } });
  expect(res.status, res.text).toBe(201);
  b.workspace = res.body.adoptedWorkspaceIds[0];
  return b;
}

/** Invites `email` into `admin`'s current workspace with `role` and accepts as a new user; returns them signed in there. */
export async function addMember(admin: Browser, email: string, role: 'admin' | 'editor' | 'viewer', password = 'a long enough password'): Promise<Browser> {
  const inv = await admin.request('POST', '/v1/invitations', { json: { email, role } });
  expect(inv.status, inv.text).toBe(201);
  const b = new Browser(admin.s, email, password);
  const res = await b.request('POST', '/v1/invitations/accept', { json: { token: inv.body.url.split('#token=')[1], password } });
  expect(res.status, res.text).toBe(200);
  b.workspace = admin.workspace;
  return b;
}
