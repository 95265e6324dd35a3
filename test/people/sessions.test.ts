import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.js';
import { Browser, expectError, setupOwner, setupToken, startPeopleServer } from './helpers.js';

let s: TestServer;
let owner: Browser;
const EMAIL = 'owner@example.com';
const PASSWORD = 'correct horse battery';

beforeAll(async () => {
  s = await startPeopleServer();
});
afterAll(async () => s?.stop());

describe('first run: the one-time setup link', () => {
  it('is printed while there are no users and refuses bad tokens, bad e-mails and weak passwords', async () => {
    const token = setupToken(s);
    const anon = new Browser(s, EMAIL, PASSWORD);
    expectError(await anon.request('POST', '/v1/setup', { json: { token: 'pcsetup_nope', email: EMAIL, password: PASSWORD } }), 403, 'setup_token_invalid');
    expectError(await anon.request('POST', '/v1/setup', { json: { token, email: 'not-an-email', password: PASSWORD } }), 400, 'invalid_input');
    expectError(await anon.request('POST', '/v1/setup', { json: { token, email: EMAIL, password: 'short' } }), 400, 'weak_password');
  });

  it('creates the owner of the existing workspace, signs them in with an HttpOnly SameSite cookie, and dies with its first use', async () => {
    const token = setupToken(s);
    owner = await setupOwner(s, EMAIL, PASSWORD);
    expect(owner.cookie).toMatch(/^press_session=pcses_/);
    const again = await new Browser(s, 'x@example.com', PASSWORD).request('POST', '/v1/setup', { json: { token, email: 'x@example.com', password: PASSWORD } });
    expectError(again, 403, 'setup_token_invalid');

    const ws = await owner.request('GET', '/v1/workspaces');
    expect(ws.status).toBe(200);
    const names = ws.body.items.map((w: { name: string; role: string; personal: boolean }) => [w.name, w.role, w.personal]);
    expect(names).toEqual(expect.arrayContaining([['default', 'owner', false], [EMAIL, 'owner', true]]));
  });

  it('sets the cookie flags a browser needs (no Secure on plain http)', async () => {
    const res = await s.request('POST', '/v1/sessions', { key: null, json: { email: EMAIL, password: PASSWORD } });
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).not.toMatch(/Secure/);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('gives the keys made before there were users (the bootstrap key) to the new owner', async () => {
    const keys = await s.request('GET', '/v1/api-keys');
    expect(keys.body.items.map((k: { userId: string | null }) => k.userId)).toEqual([owner.userId]);
  });
});

describe('sign-in, CSRF, workspace choice', () => {
  it('a wrong password and an unknown e-mail answer the same 401 invalid_credentials', async () => {
    const b = new Browser(s, EMAIL, 'wrong password!!');
    expectError(await b.request('POST', '/v1/sessions', { json: { email: EMAIL, password: 'wrong password!!' } }), 401, 'invalid_credentials');
    expectError(await b.request('POST', '/v1/sessions', { json: { email: 'nobody@example.com', password: PASSWORD } }), 401, 'invalid_credentials');
  });

  it('signs in case-insensitively and returns the user, the session and its CSRF token', async () => {
    const b = new Browser(s, EMAIL.toUpperCase(), PASSWORD);
    const res = await b.signIn();
    expect(res.body.user).toMatchObject({ email: EMAIL, id: owner.userId });
    expect(res.body.session.current).toBe(true);
    const me = await b.request('GET', '/v1/session');
    expect(me.status).toBe(200);
    expect(me.body.csrfToken).toBe(res.body.csrfToken);
  });

  it('cookie writes need the X-CSRF-Token of the session; reads do not', async () => {
    expect((await owner.request('GET', '/v1/deploys')).status).toBe(200);
    expectError(await owner.request('POST', '/v1/deploys', { json: { slug: 'csrf', name: 'x' }, csrf: false }), 403, 'csrf_token_invalid');
    expectError(await owner.request('POST', '/v1/deploys', { json: { slug: 'csrf', name: 'x' }, headers: { 'x-csrf-token': 'forged' } }), 403, 'csrf_token_invalid');
    // another session's token does not fit this one
    const other = new Browser(s, EMAIL, PASSWORD);
    await other.signIn();
    expectError(await owner.request('POST', '/v1/deploys', { json: { slug: 'csrf', name: 'x' }, headers: { 'x-csrf-token': other.csrfToken! } }), 403, 'csrf_token_invalid');
    expect((await owner.request('POST', '/v1/deploys', { json: { slug: 'csrf', name: 'x' } })).status).toBe(201);
  });

  it('a cookie write from another origin is refused even with the token', async () => {
    const res = await owner.request('POST', '/v1/deploys', { json: { slug: 'evil', name: 'x' }, headers: { origin: 'https://evil.example' } });
    expectError(res, 403, 'csrf_token_invalid');
    const same = await owner.request('POST', '/v1/deploys', { json: { slug: 'same-origin', name: 'x' }, headers: { origin: s.url } });
    expect(same.status, same.text).toBe(201);
  });

  it('workspace routes need Press-Workspace with a workspace of the user; any other is 404', async () => {
    expectError(await owner.request('GET', '/v1/deploys', { workspace: null }), 400, 'workspace_required');
    const other = await s.newAccount('not-owners');
    expectError(await owner.request('GET', '/v1/deploys', { workspace: other.accountId }), 404, 'workspace_not_found');
    expectError(await owner.request('GET', '/v1/deploys', { workspace: 'acct_00000000000000000000' }), 404, 'workspace_not_found');
    expectError(await owner.request('GET', '/v1/deploys', { workspace: 'bogus' }), 400, 'invalid_header');
    // an API key acts in its own workspace only
    expectError(await s.request('GET', '/v1/deploys', { headers: { 'press-workspace': other.accountId } }), 404, 'workspace_not_found');
  });

  it('user routes need a session: API keys get 403 session_required, nobody gets 401', async () => {
    expectError(await s.request('GET', '/v1/user'), 403, 'session_required');
    expectError(await s.request('GET', '/v1/workspaces', { key: null }), 401, 'missing_authorization');
    expectError(await s.request('GET', '/v1/user', { key: null, headers: { cookie: 'press_session=pcses_unknownunknownunknownunknown' } }), 401, 'invalid_session');
  });

  it('renames the user', async () => {
    const res = await owner.request('PATCH', '/v1/user', { json: { name: 'O. Owner' } });
    expect(res.body.user.name).toBe('O. Owner');
    expect((await owner.request('GET', '/v1/user')).body.user.name).toBe('O. Owner');
  });
});

describe('sign-out, sign-out everywhere, password change, expiry', () => {
  it('signing out ends that session only', async () => {
    const a = new Browser(s, EMAIL, PASSWORD);
    const b = new Browser(s, EMAIL, PASSWORD);
    await a.signIn();
    await b.signIn();
    const cookieA = a.cookie!;
    const out = await a.request('DELETE', '/v1/session');
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/press_session=; .*Max-Age=0/);
    expectError(await s.request('GET', '/v1/session', { key: null, headers: { cookie: cookieA } }), 401, 'invalid_session');
    expect((await b.request('GET', '/v1/session')).status).toBe(200);
  });

  it('lists the live sessions and signs out everywhere', async () => {
    const a = new Browser(s, EMAIL, PASSWORD);
    const b = new Browser(s, EMAIL, PASSWORD);
    await a.signIn();
    await b.signIn();
    const list = await a.request('GET', '/v1/sessions?limit=100');
    expect(list.body.items.filter((x: { current: boolean }) => x.current)).toHaveLength(1);
    expect(list.body.items.length).toBeGreaterThanOrEqual(2);
    const cookieA = a.cookie!;
    expect((await a.request('DELETE', '/v1/sessions')).status).toBe(204);
    expectError(await s.request('GET', '/v1/session', { key: null, headers: { cookie: cookieA } }), 401, 'invalid_session');
    expectError(await b.request('GET', '/v1/session'), 401, 'invalid_session');
    expectError(await owner.request('GET', '/v1/session'), 401, 'invalid_session');
    await owner.signIn();
  });

  it('changing the password needs the current one and ends every other session', async () => {
    const other = new Browser(s, EMAIL, PASSWORD);
    await other.signIn();
    expectError(await owner.request('POST', '/v1/user/password', { json: { currentPassword: 'nope nope nope', newPassword: 'a brand new password' } }), 401, 'invalid_credentials');
    expectError(await owner.request('POST', '/v1/user/password', { json: { currentPassword: PASSWORD, newPassword: 'short' } }), 400, 'weak_password');
    const res = await owner.request('POST', '/v1/user/password', { json: { currentPassword: PASSWORD, newPassword: 'a brand new password' } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.revokedSessions).toBeGreaterThanOrEqual(1);
    expect((await owner.request('GET', '/v1/session')).status).toBe(200);
    expectError(await other.request('GET', '/v1/session'), 401, 'invalid_session');
    expectError(await new Browser(s, EMAIL, PASSWORD).request('POST', '/v1/sessions', { json: { email: EMAIL, password: PASSWORD } }), 401, 'invalid_credentials');
    expect((await new Browser(s, EMAIL, 'a brand new password').signIn()).status).toBe(201);
  });

  it('a session ends 14 days after sign-in', async () => {
    const b = new Browser(s, EMAIL, 'a brand new password');
    await b.signIn();
    s.clock.advance(14 * 24 * 3_600_000 + 1);
    expectError(await b.request('GET', '/v1/session'), 401, 'invalid_session');
    expectError(await owner.request('GET', '/v1/session'), 401, 'invalid_session');
  });
});

describe('login throttling', () => {
  it('after 5 failures for one e-mail, even the right password waits (429 with Retry-After) until the window passes', async () => {
    s.clock.advance(15 * 60_000); // the failures of the tests above age out
    const email = 'owner@example.com';
    for (let i = 0; i < 5; i++) {
      expectError(await s.request('POST', '/v1/sessions', { key: null, json: { email, password: `wrong ${i} password` } }), 401, 'invalid_credentials');
    }
    const res = await s.request('POST', '/v1/sessions', { key: null, json: { email, password: 'a brand new password' } });
    expectError(res, 429, 'login_throttled');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(15 * 60);
    s.clock.advance(15 * 60_000);
    expect((await s.request('POST', '/v1/sessions', { key: null, json: { email, password: 'a brand new password' } })).status).toBe(201);
  });

  it('after 20 failures from one address, any e-mail waits', async () => {
    s.clock.advance(15 * 60_000);
    for (let i = 0; i < 20; i++) {
      expectError(await s.request('POST', '/v1/sessions', { key: null, json: { email: `spray${i}@example.com`, password: 'guess guess guess' } }), 401, 'invalid_credentials');
    }
    expectError(await s.request('POST', '/v1/sessions', { key: null, json: { email: EMAIL, password: 'a brand new password' } }), 429, 'login_throttled');
    s.clock.advance(15 * 60_000);
  });
});

describe('https deployments', () => {
  it('mark the cookie Secure', async () => {
    const t = await startPeopleServer({ PRESS_PUBLIC_URL: 'https://press.example.com' });
    try {
      const res = await t.request('POST', '/v1/setup', { key: null, json: { token: setupToken(t), email: EMAIL, password: PASSWORD } });
      expect(res.status, res.text).toBe(201);
      expect(res.headers.get('set-cookie')).toMatch(/; Secure/);
    } finally {
      await t.stop();
    }
  });
});
