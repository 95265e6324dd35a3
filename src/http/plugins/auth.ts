import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticate } from '../../domain/accounts.js';
import { requireRole, type Caller, type DomainDeps } from '../../domain/context.js';
import { Errors } from '../../domain/errors.js';
import { checkCsrfToken, resolveSession } from '../../domain/users.js';
import { memberCaller } from '../../domain/workspaces.js';
import type { SessionRecord, UserRecord } from '../../model/people.js';
import type { Role } from '../../model/records.js';
import { readCookie, SESSION_COOKIE } from '../cookies.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
    /** the signed-in user and their session (cookie authentication), else null */
    user: UserRecord | null;
    session: SessionRecord | null;
  }
  interface FastifyContextConfig {
    /** routes that need no API key (signed links, docs) */
    public?: boolean;
    /** stores the first response under the Idempotency-Key header */
    idempotent?: boolean;
    /**
     * the least role the route needs, checked before anything else runs (an idempotent replay included);
     * the domain checks its own rules again (e.g. the production alias)
     */
    role?: Role;
    /**
     * `workspace` (default): an API key, or a signed-in user acting in the workspace named by `Press-Workspace`.
     * `user`: a signed-in user, no workspace (the user's own pages). `optional-user`: public, with the signed-in
     * user when a session cookie comes along (accepting an invitation).
     */
    scope?: 'workspace' | 'user' | 'optional-user';
  }
}

const authFailure = Symbol('authFailure');

/** The header that picks the workspace of a cookie-authenticated request (API keys imply theirs). */
export const WORKSPACE_HEADER = 'press-workspace';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Authenticates every /v1 request except public routes: `Authorization: Bearer pcak_…`, or the session cookie. A
 * cookie-authenticated write must carry the session's CSRF token and, if the browser sent an Origin, come from this
 * server's own origin. The caller is resolved in onRequest, so the rate limit (a route-level onRequest hook) can
 * count the key, or the client address when there is none; a failure is answered in preParsing, after the rate limit
 * and before the body is read.
 */
export const authPlugin = fp(async (app: FastifyInstance, opts: { deps: DomainDeps }) => {
  const deps = opts.deps;
  app.decorateRequest('caller', null as unknown as Caller);
  app.decorateRequest(authFailure, null);
  app.decorateRequest('user', null);
  app.decorateRequest('session', null);

  const signedIn = async (req: FastifyRequest, token: string) => {
    const { session, user } = await resolveSession(deps, token);
    if (!SAFE_METHODS.has(req.method)) {
      checkOrigin(req, deps.settings.publicUrl);
      const given = req.headers['x-csrf-token'];
      checkCsrfToken(deps, session.id, typeof given === 'string' ? given : undefined);
    }
    req.user = user;
    req.session = session;
  };

  const resolve = async (req: FastifyRequest) => {
    const config = req.routeOptions.config;
    if (!req.routeOptions.url?.startsWith('/v1/')) return;
    const token = readCookie(req, SESSION_COOKIE);
    if (config.scope === 'optional-user') {
      if (token && !req.headers.authorization) await signedIn(req, token);
      return;
    }
    if (config.public) return;
    const scope = config.scope ?? 'workspace';
    const workspace = req.headers[WORKSPACE_HEADER];
    if (workspace !== undefined && (typeof workspace !== 'string' || !/^acct_[0-9A-Za-z_-]{10,64}$/.test(workspace))) {
      throw Errors.invalidHeader(`${WORKSPACE_HEADER} must be a workspace id (acct_…).`);
    }
    if (req.headers.authorization || !token) {
      if (scope === 'user') {
        if (!token && !req.headers.authorization) throw Errors.missingAuthorization('Sign in first (POST /v1/sessions): this route needs a signed-in user.');
        throw Errors.sessionRequired('This route needs a signed-in user (session cookie); API keys act only inside their workspace.');
      }
      req.caller = await authenticate(deps, req.headers.authorization, req.id);
      if (workspace && workspace !== req.caller.accountId) throw Errors.workspaceNotFound(`No workspace ${workspace} for this API key; a key acts only in its own workspace.`);
      return;
    }
    await signedIn(req, token);
    if (scope === 'user') return;
    if (!workspace) throw Errors.workspaceRequired(`Signed-in requests name their workspace in the ${WORKSPACE_HEADER} header (GET /v1/workspaces lists yours).`);
    req.caller = await memberCaller(deps, req.user!.id, workspace, req.id);
  };

  app.addHook('onRequest', async (req) => {
    try {
      await resolve(req);
    } catch (err) {
      (req as unknown as Record<symbol, unknown>)[authFailure] = err;
    }
  });
  app.addHook('preParsing', async (req, _reply, payload) => {
    const failure = (req as unknown as Record<symbol, unknown>)[authFailure];
    if (failure) throw failure;
    const role = req.routeOptions.config.role;
    if (role && req.caller) requireRole(req.caller, role, 'This request');
    return payload;
  });
});

/**
 * A browser always sends Origin on cross-origin writes; one that is not this server's own (its Host, or the public
 * URL) is refused even before the CSRF token is looked at.
 */
function checkOrigin(req: FastifyRequest, publicUrl: string) {
  const origin = req.headers.origin;
  if (!origin) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw Errors.csrfTokenInvalid('The Origin header is not a URL.');
  }
  const allowed = new Set([req.headers.host, safeHost(publicUrl)]);
  if (!allowed.has(host)) throw Errors.csrfTokenInvalid(`Cross-origin writes are refused (Origin ${origin}).`);
}

function safeHost(url: string) {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}
