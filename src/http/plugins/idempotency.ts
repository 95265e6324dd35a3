import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { beginIdempotent, finishIdempotent } from '../../domain/idempotency.js';
import type { DomainDeps } from '../../domain/context.js';
import { sha256Hex } from '../../domain/crypto.js';
import { canonicalJson } from '@press-cloud/engine/canonical-json';
import type { IdempotencyScope } from '../../model/records.js';

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyScope: IdempotencyScope | null;
  }
}

/**
 * Idempotency-Key on routes with `config.idempotent`. Runs after validation (preHandler), so requests that fail
 * validation are never stored; the response is stored in onSend.
 */
export const idempotencyPlugin = fp(async (app: FastifyInstance, opts: { deps: DomainDeps }) => {
  app.decorateRequest('idempotencyScope', null);
  app.addHook('preHandler', async (req, reply) => {
    const key = req.headers['idempotency-key'];
    if (!req.routeOptions.config.idempotent || typeof key !== 'string' || !req.caller) return;
    // authenticated and authorized (config.role) before this runs: a replay never shows a response to a caller
    // who could not have made the request, and another key's responses are out of scope. A signed-in user's
    // requests are scoped to the user (no key), so their keys and their browser never share responses.
    const scope = { accountId: req.caller.accountId, apiKeyId: req.caller.keyId ?? `user:${req.caller.userId}`, method: req.method, route: req.routeOptions.url!, key };
    const outcome = await beginIdempotent(opts.deps, scope, sha256Hex(canonicalJson({ params: req.params, body: req.body ?? null })));
    if (outcome.kind === 'replay') {
      return reply.code(outcome.statusCode).header('idempotent-replayed', 'true').type('application/json; charset=utf-8').send(outcome.body);
    }
    req.idempotencyScope = scope;
  });
  app.addHook('onSend', async (req, reply, payload) => {
    const scope = req.idempotencyScope;
    if (!scope) return payload;
    req.idempotencyScope = null;
    await finishIdempotent(opts.deps, scope, reply.statusCode, typeof payload === 'string' ? payload : '');
    return payload;
  });
});
