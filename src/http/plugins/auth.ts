import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { authenticate } from '../../domain/accounts.js';
import { requireRole, type Caller, type DomainDeps } from '../../domain/context.js';
import type { Role } from '../../model/records.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
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
  }
}

const authFailure = Symbol('authFailure');

/**
 * Authenticates every /v1 request except public routes. The key is resolved in onRequest, so the rate limit (a
 * route-level onRequest hook) can count the key, or the client address when there is no valid key; a failure is
 * answered in preParsing, after the rate limit and before the body is read.
 */
export const authPlugin = fp(async (app: FastifyInstance, opts: { deps: DomainDeps }) => {
  app.decorateRequest('caller', null as unknown as Caller);
  app.decorateRequest(authFailure, null);
  app.addHook('onRequest', async (req) => {
    if (req.routeOptions.config.public || !req.routeOptions.url?.startsWith('/v1/')) return;
    try {
      req.caller = await authenticate(opts.deps, req.headers.authorization);
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
