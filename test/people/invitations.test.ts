import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import type { TestServer } from '../helpers/server.js';
import { addMember, Browser, expectError, setupOwner, startPeopleServer } from './helpers.js';

let s: TestServer;
let owner: Browser;
let viewer: Browser;
const tokenOf = (url: string) => url.split('#token=')[1];

beforeAll(async () => {
  s = await startPeopleServer();
  owner = await setupOwner(s);
  viewer = await addMember(owner, 'viewer@example.com', 'viewer');
});
afterAll(async () => s?.stop());

describe('invitations', () => {
  it('an admin invites: the link carries a single-use token in its fragment; no SMTP, no e-mail', async () => {
    const res = await owner.request('POST', '/v1/invitations', { json: { email: 'New.Person@Example.com', role: 'editor' } });
    expect(res.status, res.text).toBe(201);
    expect(res.body.invitation).toMatchObject({ email: 'new.person@example.com', role: 'editor', invitedByUserId: owner.userId, expiresAt: s.clock.now() + 7 * 86_400_000 });
    expect(res.body.url).toBe(`${s.url}/accept-invitation#token=${tokenOf(res.body.url)}`);
    expect(tokenOf(res.body.url)).toMatch(/^pcinv_/);
    expect(res.body.emailSent).toBe(false);
    // stored hashed: the token appears nowhere in the database
    expect((await s.databaseDump()).includes(Buffer.from(tokenOf(res.body.url)))).toBe(false);

    const list = await owner.request('GET', '/v1/invitations');
    expect(list.body.items.map((i: { email: string }) => i.email)).toContain('new.person@example.com');
  });

  it('preview shows what the link offers; accepting as a new user signs them in as a member', async () => {
    const { url } = (await owner.request('POST', '/v1/invitations', { json: { email: 'fresh@example.com', role: 'editor' } })).body;
    const anon = new Browser(s, 'fresh@example.com', 'fresh password 1');
    const preview = await anon.request('POST', '/v1/invitations/preview', { json: { token: tokenOf(url) } });
    expect(preview.body).toEqual({ workspace: { id: owner.workspace, name: 'default' }, email: 'fresh@example.com', role: 'editor', expiresAt: expect.any(Number), userExists: false });
    expectError(await anon.request('POST', '/v1/invitations/accept', { json: { token: tokenOf(url) } }), 400, 'invalid_input');
    expectError(await anon.request('POST', '/v1/invitations/accept', { json: { token: tokenOf(url), password: 'short' } }), 400, 'weak_password');
    const res = await anon.request('POST', '/v1/invitations/accept', { json: { token: tokenOf(url), password: 'fresh password 1', name: 'Fresh' } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ workspaceId: owner.workspace, role: 'editor', user: { email: 'fresh@example.com', name: 'Fresh' } });
    expect(res.body.csrfToken).toBeTruthy();
    anon.workspace = owner.workspace;
    expect((await anon.request('POST', '/v1/deploys', { json: { slug: 'by-fresh', name: 'x' } })).status).toBe(201);
    // single use
    expectError(await new Browser(s, 'x', 'y').request('POST', '/v1/invitations/accept', { json: { token: tokenOf(url), password: 'another password' } }), 404, 'invitation_not_found');
  });

  it('an existing user accepts while signed in as the invited e-mail; not signed in or as someone else is refused', async () => {
    const other = await addMember(owner, 'someone@example.com', 'viewer');
    const { workspace } = (await other.request('POST', '/v1/workspaces', { json: { name: 'Someone Co' } })).body;
    other.workspace = workspace.id;
    const { url } = (await other.request('POST', '/v1/invitations', { json: { email: 'viewer@example.com', role: 'admin' } })).body;
    expect((await new Browser(s, '', '').request('POST', '/v1/invitations/preview', { json: { token: tokenOf(url) } })).body.userExists).toBe(true);
    expectError(await new Browser(s, '', '').request('POST', '/v1/invitations/accept', { json: { token: tokenOf(url), password: 'whatever password' } }), 409, 'email_taken');
    expectError(await owner.request('POST', '/v1/invitations/accept', { json: { token: tokenOf(url) } }), 403, 'invitation_email_mismatch');
    expectError(await viewer.request('POST', '/v1/invitations/accept', { json: { token: tokenOf(url) }, csrf: false }), 403, 'csrf_token_invalid');
    const res = await viewer.request('POST', '/v1/invitations/accept', { json: { token: tokenOf(url) } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.csrfToken).toBeUndefined();
    expect((await viewer.request('GET', '/v1/members', { workspace: workspace.id })).status).toBe(200);
  });

  it('inviting a member again is 409 already_member', async () => {
    expectError(await owner.request('POST', '/v1/invitations', { json: { email: 'viewer@example.com', role: 'editor' } }), 409, 'already_member');
    expectError(await owner.request('POST', '/v1/invitations', { json: { email: 'viewer@example.com', role: 'owner' } }), 400, 'invalid_input');
  });

  it('revoked → 404; expired after 7 days → 410; another workspace cannot revoke it (404)', async () => {
    const a = (await owner.request('POST', '/v1/invitations', { json: { email: 'revoked@example.com', role: 'viewer' } })).body;
    const other = await s.newAccount('other-inv');
    expectError(await s.request('DELETE', `/v1/invitations/${a.invitation.id}`, { key: other.keys.admin }), 404, 'invitation_not_found');
    expectError(await viewer.request('DELETE', `/v1/invitations/${a.invitation.id}`), 403, 'insufficient_permission');
    expect((await owner.request('DELETE', `/v1/invitations/${a.invitation.id}`)).status).toBe(204);
    expectError(await owner.request('DELETE', `/v1/invitations/${a.invitation.id}`), 404, 'invitation_not_found');
    expectError(await new Browser(s, '', '').request('POST', '/v1/invitations/accept', { json: { token: tokenOf(a.url), password: 'revoked password' } }), 404, 'invitation_not_found');
    expect((await owner.request('GET', '/v1/invitations')).body.items.map((i: { id: string }) => i.id)).not.toContain(a.invitation.id);

    const b = (await owner.request('POST', '/v1/invitations', { json: { email: 'late@example.com', role: 'viewer' } })).body;
    s.clock.advance(7 * 86_400_000);
    expectError(await new Browser(s, '', '').request('POST', '/v1/invitations/preview', { json: { token: tokenOf(b.url) } }), 410, 'invitation_expired');
    expectError(await new Browser(s, '', '').request('POST', '/v1/invitations/accept', { json: { token: tokenOf(b.url), password: 'late password 1' } }), 410, 'invitation_expired');
    expect((await owner.request('GET', '/v1/invitations')).body.items).toEqual([]);
  });

  it('an API key of an admin invites too; an unknown token is 404', async () => {
    const res = await s.request('POST', '/v1/invitations', { json: { email: 'bykey@example.com', role: 'viewer' } });
    expect(res.status, res.text).toBe(201);
    expectError(await new Browser(s, '', '').request('POST', '/v1/invitations/preview', { json: { token: 'pcinv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } }), 404, 'invitation_not_found');
  });
});

describe('invitation e-mail over SMTP', () => {
  it('is sent when PRESS_SMTP_URL is set, with the link in the text', async () => {
    const received: { to: string[]; data: string }[] = [];
    const smtp = new SMTPServer({
      authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
      onData(stream, session, done) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          received.push({ to: session.envelope.rcptTo.map((r) => r.address), data: Buffer.concat(chunks).toString('utf8') });
          done();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const port = (smtp.server.address() as AddressInfo).port;
    const t = await startPeopleServer({ PRESS_SMTP_URL: `smtp://127.0.0.1:${port}`, PRESS_SMTP_FROM: 'Press <press@test.local>' });
    try {
      const o = await setupOwner(t);
      const res = await o.request('POST', '/v1/invitations', { json: { email: 'mailme@example.com', role: 'viewer' } });
      expect(res.status, res.text).toBe(201);
      expect(res.body.emailSent).toBe(true);
      expect(received).toHaveLength(1);
      expect(received[0].to).toEqual(['mailme@example.com']);
      expect(received[0].data).toMatch(/From: Press <press@test\.local>/);
      expect(received[0].data).toMatch(/Subject: You are invited to default on Press Cloud/);
      expect(received[0].data.replace(/=\r?\n/g, '')).toContain(tokenOf(res.body.url));
    } finally {
      await t.stop();
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
    }
  });

  it('an unreachable mail server leaves the invitation and its link (emailSent false)', async () => {
    const t = await startPeopleServer({ PRESS_SMTP_URL: 'smtp://127.0.0.1:1' });
    try {
      const o = await setupOwner(t);
      const res = await o.request('POST', '/v1/invitations', { json: { email: 'nomail@example.com', role: 'viewer' } });
      expect(res.status, res.text).toBe(201);
      expect(res.body.emailSent).toBe(false);
      expect(res.body.url).toMatch(/#token=pcinv_/);
    } finally {
      await t.stop();
    }
  });
});
