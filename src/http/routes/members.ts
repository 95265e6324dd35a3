import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { listAuditLog } from '../../domain/audit.js';
import * as invitations from '../../domain/invitations.js';
import { csrfTokenFor, sessionView, userView } from '../../domain/users.js';
import * as workspaces from '../../domain/workspaces.js';
import type { AppContext } from '../context.js';
import { setSessionCookie } from '../cookies.js';
import { Id, Millis, NoContent, Page, PageQuery, errors } from '../schemas/common.js';
import { AuditEntry, Email, Invitation, InvitedRole, Member, MemberRole, Name, Password, Session, User } from '../schemas/people.js';

/** Members, invitations and the audit log of the caller's workspace (the API key's, or `Press-Workspace`). */
export const memberRoutes = (ctx: AppContext): FastifyPluginAsyncTypebox => async (app) => {
  const d = ctx.deps;
  const MemberParams = Type.Object({ userId: Id('usr') });

  app.get('/members', {
    schema: { operationId: 'listMembers', tags: ['Members'], summary: 'Members of the workspace and their roles', querystring: PageQuery, response: { 200: Page(Member, 'MemberList'), ...errors() } },
  }, async (req) => workspaces.listMembers(d, req.caller, req.query));

  app.patch('/members/:userId', {
    schema: {
      operationId: 'updateMember', tags: ['Members'], summary: 'Change a member\'s role (admin; the owner\'s only by a transfer)', params: MemberParams,
      body: Type.Object({ role: InvitedRole }), response: { 200: Type.Object({ member: Type.Object({ userId: Id('usr'), role: MemberRole }) }), ...errors(404, 409) },
    },
  }, async (req) => {
    const m = await workspaces.changeMemberRole(d, req.caller, req.params.userId, req.body.role);
    return { member: { userId: m.userId, role: m.role } };
  });

  app.delete('/members/:userId', {
    schema: {
      operationId: 'removeMember', tags: ['Members'], params: MemberParams, response: { 204: NoContent, ...errors(404, 409) },
      summary: 'Remove a member (admin), or leave the workspace (yourself); their API keys stop working at once',
    },
  }, async (req, reply) => {
    await workspaces.removeMember(d, req.caller, req.params.userId);
    return reply.code(204).send();
  });

  // ---- invitations ----

  app.post('/invitations', {
    schema: {
      operationId: 'createInvitation', tags: ['Invitations'], summary: 'Invite someone by e-mail (admin); the link is returned, and e-mailed when SMTP is configured',
      body: Type.Object({ email: Email, role: InvitedRole }),
      response: {
        201: Type.Object({
          invitation: Invitation,
          url: Type.String({ description: 'the accept link (valid 7 days, single use); shown only now' }),
          emailSent: Type.Boolean({ description: 'true when the link was also e-mailed (PRESS_SMTP_URL configured)' }),
        }),
        ...errors(409),
      },
    },
  }, async (req, reply) => reply.code(201).send(await invitations.createInvitation(d, req.caller, req.body, req.log)));

  app.get('/invitations', {
    schema: { operationId: 'listInvitations', tags: ['Invitations'], summary: 'Pending invitations (admin)', querystring: PageQuery, response: { 200: Page(Invitation, 'InvitationList'), ...errors() } },
  }, async (req) => invitations.listInvitations(d, req.caller, req.query));

  app.delete('/invitations/:invitationId', {
    schema: {
      operationId: 'revokeInvitation', tags: ['Invitations'], summary: 'Revoke a pending invitation (admin)',
      params: Type.Object({ invitationId: Id('inv') }), response: { 204: NoContent, ...errors(404) },
    },
  }, async (req, reply) => {
    await invitations.revokeInvitation(d, req.caller, req.params.invitationId);
    return reply.code(204).send();
  });

  const Token = Type.String({ minLength: 1, maxLength: 200, description: 'pcinv_… from the invitation link' });

  app.post('/invitations/preview', {
    config: { public: true },
    schema: {
      operationId: 'previewInvitation', tags: ['Invitations'], security: [], summary: 'What an invitation link offers (no sign-in needed)',
      body: Type.Object({ token: Token }),
      response: {
        200: Type.Object({
          workspace: Type.Object({ id: Id('acct'), name: Type.String() }), email: Type.String(), role: InvitedRole, expiresAt: Millis(),
          userExists: Type.Boolean({ description: 'true: sign in as this e-mail, then accept; false: accept with a new password' }),
        }),
        ...errors(404, 410),
      },
    },
  }, async (req) => invitations.previewInvitation(d, req.body.token));

  app.post('/invitations/accept', {
    config: { scope: 'optional-user' },
    schema: {
      operationId: 'acceptInvitation', tags: ['Invitations'], security: [{}, { session: [] }],
      summary: 'Accept an invitation: signed in (the invited e-mail), or as a new user with a password (signs in)',
      body: Type.Object({ token: Token, password: Type.Optional(Password), name: Type.Optional(Name) }),
      response: {
        200: Type.Object({
          workspaceId: Id('acct'), role: InvitedRole, user: User,
          session: Type.Optional(Session), csrfToken: Type.Optional(Type.String({ description: 'present when a new user was signed in' })),
        }),
        ...errors(404, 409, 410),
      },
    },
  }, async (req, reply) => {
    const r = await invitations.acceptInvitation(d, req.body, req.user, { ip: req.ip ?? null, userAgent: req.headers['user-agent'] ?? null });
    const body = { workspaceId: r.workspaceId, role: r.role, user: userView(r.user) };
    if (!r.started) return body;
    setSessionCookie(req, reply, r.started.token, r.started.session.expiresAt, d.clock.now(), d.settings.secureCookies);
    return { ...body, session: sessionView(r.started.session, r.started.session.id), csrfToken: csrfTokenFor(d, r.started.session.id) };
  });

  // ---- audit log ----

  app.get('/audit-logs', {
    schema: {
      operationId: 'listAuditLogs', tags: ['Audit log'], summary: 'Who changed what in the workspace, newest first (every member may read it)',
      querystring: Type.Object({
        ...PageQuery.properties,
        actorId: Type.Optional(Type.String({ maxLength: 128, description: 'a user id or API key id' })),
        action: Type.Optional(Type.String({ maxLength: 100, description: 'exact action, e.g. member.removed' })),
        targetId: Type.Optional(Type.String({ maxLength: 128 })),
        from: Type.Optional(Type.Integer({ minimum: 0, description: 'createdAt ≥ from (epoch ms)' })),
        to: Type.Optional(Type.Integer({ minimum: 0, description: 'createdAt < to (epoch ms)' })),
      }, { additionalProperties: false }),
      response: { 200: Page(AuditEntry, 'AuditEntryList'), ...errors() },
    },
  }, async (req) => listAuditLog(d, req.caller, req.query));
};
