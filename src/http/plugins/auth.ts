import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { authenticate } from '../../domain/accounts.js';
import type { Caller, DomainDeps } from '../../domain/context.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
  interface FastifyContextConfig {
    /** routes that need no API key (signed links, docs) */
    public?: boolean;
    /** stores the first response under the Idempotency-Key header */
    idempotent?: boolean;
  }
}

/** Authenticates every /v1 request except public routes; the domain enforces roles. */
export const authPlugin = fp(async (app: FastifyInstance, opts: { deps: DomainDeps }) => {
  app.decorateRequest('caller', null as unknown as Caller);
  app.addHook('onRequest', async (req) => {
    if (req.routeOptions.config.public || !req.routeOptions.url?.startsWith('/v1/')) return;
    req.caller = await authenticate(opts.deps, req.headers.authorization);
  });
});
