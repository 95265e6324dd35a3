import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LoginThrottle } from '../../domain/login-throttle.js';
import * as users from '../../domain/users.js';
import * as workspaces from '../../domain/workspaces.js';
import type { AppContext } from '../context.js';
import { clearSessionCookie, setSessionCookie } from '../cookies.js';
import { Id, NoContent, Page, PageQuery, errors } from '../schemas/common.js';
import { Email, Name, Password, Session, SignedIn, User, Workspace } from '../schemas/people.js';

const SESSION_SECURITY = [{ session: [] }];

/**
 * Users, sessions, first-run setup and the user's workspaces (spec §10). These routes act for the signed-in user
 * (session cookie); API keys act inside their workspace only and get 403 session_required here.
 */
export const peopleRoutes = (ctx: AppContext): FastifyPluginAsyncTypebox => async (app) => {
  const d = ctx.deps;
  const throttle = new LoginThrottle(d.db.loginFailures, d.clock);
  const meta = (req: FastifyRequest) => ({ ip: req.ip ?? null, userAgent: typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : null });
  const signedIn = (req: FastifyRequest, reply: FastifyReply, s: users.StartedSession) => {
    setSessionCookie(req, reply, s.token, s.session.expiresAt, d.clock.now(), d.settings.secureCookies);
    reply.header('cache-control', 'no-store');
    return { user: users.userView(s.user), session: users.sessionView(s.session, s.session.id), csrfToken: s.csrfToken };
  };

  app.post('/setup', {
    config: { public: true },
    schema: {
      operationId: 'completeSetup', tags: ['Users'], security: [],
      summary: 'First run: the one-time setup link creates the first user, owner of the workspaces that have no owner',
      body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200, description: 'pcsetup_… from the link the server printed' }), email: Email, password: Password, name: Type.Optional(Name) }),
      response: { 201: Type.Intersect([SignedIn, Type.Object({ adoptedWorkspaceIds: Type.Array(Id('acct')) })]), ...errors(409) },
    },
  }, async (req, reply) => {
    const r = await users.completeSetup(d, req.body, meta(req));
    return reply.code(201).send({ ...signedIn(req, reply, r), adoptedWorkspaceIds: r.adopted });
  });

  app.post('/sessions', {
    config: { public: true },
    schema: {
      operationId: 'signIn', tags: ['Users'], security: [],
      summary: 'Sign in: sets the HttpOnly session cookie and returns the CSRF token',
      body: Type.Object({ email: Type.String({ minLength: 1, maxLength: 320 }), password: Type.String({ minLength: 1, maxLength: 1024 }) }),
      response: { 201: SignedIn, ...errors() },
    },
  }, async (req, reply) => reply.code(201).send(signedIn(req, reply, await users.signIn(d, throttle, req.body, meta(req)))));

  app.get('/session', {
    config: { scope: 'user' },
    schema: { operationId: 'getSession', tags: ['Users'], security: SESSION_SECURITY, summary: 'The signed-in user, this session and its CSRF token', response: { 200: SignedIn, ...errors() } },
  }, async (req, reply) => {
    reply.header('cache-control', 'no-store');
    return { user: users.userView(req.user!), session: users.sessionView(req.session!, req.session!.id), csrfToken: users.csrfTokenFor(d, req.session!.id) };
  });

  app.delete('/session', {
    config: { scope: 'user' },
    schema: { operationId: 'signOut', tags: ['Users'], security: SESSION_SECURITY, summary: 'Sign out this session', response: { 204: NoContent, ...errors() } },
  }, async (req, reply) => {
    await users.signOut(d, req.session!.id);
    clearSessionCookie(req, reply, d.settings.secureCookies);
    return reply.code(204).send();
  });

  app.get('/sessions', {
    config: { scope: 'user' },
    schema: { operationId: 'listSessions', tags: ['Users'], security: SESSION_SECURITY, summary: 'The signed-in user\'s live sessions', querystring: PageQuery, response: { 200: Page(Session, 'SessionList'), ...errors() } },
  }, async (req) => users.listSessions(d, req.user!.id, req.session!.id, req.query));

  app.delete('/sessions', {
    config: { scope: 'user' },
    schema: { operationId: 'signOutEverywhere', tags: ['Users'], security: SESSION_SECURITY, summary: 'Sign out everywhere: ends every session of the user, this one included', response: { 204: NoContent, ...errors() } },
  }, async (req, reply) => {
    await users.signOutEverywhere(d, req.user!.id);
    clearSessionCookie(req, reply, d.settings.secureCookies);
    return reply.code(204).send();
  });

  app.get('/user', {
    config: { scope: 'user' },
    schema: { operationId: 'getUser', tags: ['Users'], security: SESSION_SECURITY, summary: 'The signed-in user', response: { 200: Type.Object({ user: User }), ...errors() } },
  }, async (req) => ({ user: users.userView(req.user!) }));

  app.patch('/user', {
    config: { scope: 'user' },
    schema: {
      operationId: 'updateUser', tags: ['Users'], security: SESSION_SECURITY, summary: 'Change the signed-in user\'s name',
      body: Type.Object({ name: Type.Optional(Name) }), response: { 200: Type.Object({ user: User }), ...errors() },
    },
  }, async (req) => ({ user: await users.updateUser(d, req.user!, req.body) }));

  app.post('/user/password', {
    config: { scope: 'user' },
    schema: {
      operationId: 'changePassword', tags: ['Users'], security: SESSION_SECURITY, summary: 'Change the password; every other session of the user ends',
      body: Type.Object({ currentPassword: Type.String({ minLength: 1, maxLength: 1024 }), newPassword: Password }),
      response: { 200: Type.Object({ revokedSessions: Type.Integer({ description: 'other sessions that were signed out' }) }), ...errors() },
    },
  }, async (req) => users.changePassword(d, req.user!, req.session!.id, req.body));

  // ---- workspaces ----

  const WorkspaceParams = Type.Object({ workspaceId: Id('acct') });

  app.get('/workspaces', {
    config: { scope: 'user' },
    schema: { operationId: 'listWorkspaces', tags: ['Workspaces'], security: SESSION_SECURITY, summary: 'The signed-in user\'s workspaces with their role in each', querystring: PageQuery, response: { 200: Page(Workspace, 'WorkspaceList'), ...errors() } },
  }, async (req) => workspaces.listWorkspaces(d, { userId: req.user!.id }, req.query));

  app.post('/workspaces', {
    config: { scope: 'user' },
    schema: {
      operationId: 'createWorkspace', tags: ['Workspaces'], security: SESSION_SECURITY, summary: 'Create a team workspace owned by the signed-in user',
      body: Type.Object({ name: Name }), response: { 201: Type.Object({ workspace: Workspace }), ...errors(409) },
    },
  }, async (req, reply) => reply.code(201).send({ workspace: await workspaces.createWorkspace(d, req.user!, { userId: req.user!.id, keyId: null, accountId: '', role: 'owner', requestId: req.id }, req.body) }));

  app.get('/workspaces/:workspaceId', {
    config: { scope: 'user' },
    schema: { operationId: 'getWorkspace', tags: ['Workspaces'], security: SESSION_SECURITY, summary: 'A workspace of the signed-in user', params: WorkspaceParams, response: { 200: Type.Object({ workspace: Workspace }), ...errors(404) } },
  }, async (req) => ({ workspace: await workspaces.getWorkspace(d, await workspaces.memberCaller(d, req.user!.id, req.params.workspaceId, req.id)) }));

  app.patch('/workspaces/:workspaceId', {
    config: { scope: 'user' },
    schema: {
      operationId: 'updateWorkspace', tags: ['Workspaces'], security: SESSION_SECURITY, summary: 'Rename a workspace (admin)', params: WorkspaceParams,
      body: Type.Object({ name: Type.Optional(Name) }), response: { 200: Type.Object({ workspace: Workspace }), ...errors(404, 409) },
    },
  }, async (req) => ({ workspace: await workspaces.renameWorkspace(d, await workspaces.memberCaller(d, req.user!.id, req.params.workspaceId, req.id), req.body) }));

  app.delete('/workspaces/:workspaceId', {
    config: { scope: 'user' },
    schema: {
      operationId: 'deleteWorkspace', tags: ['Workspaces'], security: SESSION_SECURITY, params: WorkspaceParams,
      summary: 'Delete a team workspace and everything in it (owner only; typed-name confirmation)',
      description: 'Cancels its unfinished render jobs (renders in progress stop), then deletes its deploys, versions, files, upload sessions, '
        + 'render jobs and their outputs, managed PDFs, webhook deliveries, API keys (they answer 401 at once), members, invitations and '
        + 'audit log, and removes their objects from the blob store (content blobs only when no other workspace holds them). '
        + 'Personal workspaces cannot be deleted (409 `personal_workspace_not_deletable`). The `workspace.deleted` entry is written to the '
        + 'audit log of the owner\'s personal workspace, which is returned as the workspace to continue in.',
      body: Type.Object({ confirm: Type.String({ maxLength: 200, description: 'the workspace\'s name, typed by the user to confirm' }) }),
      response: { 200: Type.Object({ workspace: Workspace }), ...errors(404, 409) },
    },
  }, async (req) => ({ workspace: await workspaces.deleteWorkspace(d, await workspaces.memberCaller(d, req.user!.id, req.params.workspaceId, req.id), req.body) }));

  app.post('/workspaces/:workspaceId/transfer-ownership', {
    config: { scope: 'user' },
    schema: {
      operationId: 'transferWorkspaceOwnership', tags: ['Workspaces'], security: SESSION_SECURITY, params: WorkspaceParams,
      summary: 'Make another member the owner (owner only); the previous owner becomes an admin',
      body: Type.Object({ userId: Id('usr') }), response: { 200: Type.Object({ workspace: Workspace }), ...errors(404) },
    },
  }, async (req) => ({ workspace: await workspaces.transferOwnership(d, await workspaces.memberCaller(d, req.user!.id, req.params.workspaceId, req.id), req.body.userId) }));
};
