import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import rateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from './http/context.js';
import { clientErrorHandler, frameworkErrors, registerErrorHandling, routePattern } from './http/error-handler.js';
import { authPlugin } from './http/plugins/auth.js';
import { bodiesPlugin, type BodyLimits } from './http/plugins/bodies.js';
import { idempotencyPlugin } from './http/plugins/idempotency.js';
import { validatorCompiler } from './http/validation.js';
import { finishOpenApi } from './http/openapi.js';
import { ErrorResponse } from './http/schemas/common.js';
import { RenderJobDiagnostics } from './http/schemas/render-jobs.js';
import { accountRoutes } from './http/routes/account.js';
import { deployRoutes } from './http/routes/deploys.js';
import { uploadRoutes } from './http/routes/uploads.js';
import { renderJobRoutes } from './http/routes/render-jobs.js';
import { webhookRoutes } from './http/routes/webhooks.js';
import { jsonDepth } from '@press-cloud/engine/canonical-json';
import { Errors } from './domain/errors.js';
import { MAX_ID_LENGTH } from './domain/ids.js';
import { peopleRoutes } from './http/routes/people.js';
import { memberRoutes } from './http/routes/members.js';
import { registerDashboard } from './http/dashboard.js';
import type { Metrics } from './internal/metrics.js';
import { PACKAGE_VERSION } from './version.js';

export interface BuildAppOptions {
  /** `api` serves the whole /v1 API; `ops` only /healthz, /readyz and /metrics (render-worker nodes) */
  surface?: 'api' | 'ops';
  /** Prometheus metrics served at /metrics, with HTTP latency recorded per route */
  metrics?: Metrics;
  logger?: FastifyServerOptions['logger'] | false;
  /** per-key requests per minute (requests without a valid key: per client address); null/undefined = off */
  rateLimitPerMinute?: number | null;
  /** time and memory bounds of request bodies (defaults: 60 s, 256 MiB) */
  bodyLimits?: Partial<BodyLimits>;
}

/** JSON bodies nested deeper than this are refused before they are parsed. */
export const MAX_JSON_DEPTH = 100;

/** Query parameters that make a URL a credential (signed links); the request log shows them redacted. */
const SECRET_QUERY = /([?&](?:signature|x-amz-signature|x-amz-credential)=)[^&#]*/gi;
export const redactUrl = (url: string) => url.replace(SECRET_QUERY, '$1[redacted]');

/** The request as the log shows it: signed links without their signature. */
function requestForLog(req: FastifyRequest) {
  return { method: req.method, url: redactUrl(req.url), host: req.host, remoteAddress: req.ip, remotePort: req.socket?.remotePort };
}

/** Builds the HTTP app around the domain. Never listens: the server entry point and tests do that. */
export async function buildApp(ctx: AppContext, opts: BuildAppOptions = {}): Promise<FastifyInstance> {
  const logger = opts.logger ? { ...(opts.logger === true ? {} : opts.logger), serializers: { req: requestForLog } } : false;
  const app = Fastify({
    logger: logger as FastifyServerOptions['logger'],
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : `req_${randomUUID().replace(/-/g, '')}`;
    },
    bodyLimit: 1024 * 1024,
    ajv: undefined,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_ID_LENGTH },
    frameworkErrors,
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.addSchema(ErrorResponse);
  app.addSchema(RenderJobDiagnostics);
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });

  // Closing: a response still going out ends its connection too. Node's close() only drops the connections idle
  // when it is called; one that turns idle afterwards (a ?wait answered during shutdown) would hold the close
  // until its keep-alive timeout.
  // The same signal lets ?wait long-polls answer at once instead of holding the close for up to 60 s.
  const closing = new AbortController();
  app.addHook('preClose', async () => closing.abort());
  app.addHook('onSend', async (_req, reply) => {
    if (closing.signal.aborted) reply.header('connection', 'close');
  });

  // An empty JSON body means "no body" (optional-body POSTs such as commit), not a parse error.
  // Depth is bounded before parsing: code that walks a value (canonical JSON, validation) then never meets one
  // nested thousands of levels deep.
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body.toString();
    if (text.trim() === '') return done(null, undefined);
    if (jsonDepth(text) > MAX_JSON_DEPTH) {
      return done(Errors.invalidInput(`The JSON body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep.`), undefined);
    }
    defaultJson(req, text, done);
  });

  // A POST without a body is an empty object, so optional-body routes (commit, missing-blobs) accept no body
  // and required fields are reported by name rather than as "body must be object".
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined && (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH')) req.body = {};
  });

  const knownRoutes: { method: string; pattern: RegExp }[] = [];
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) if (m !== 'HEAD') knownRoutes.push({ method: m, pattern: routePattern(r.url) });
  });
  registerErrorHandling(app, knownRoutes);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Press Cloud API',
        version: PACKAGE_VERSION,
        description:
          'Self-hostable, API-compatible implementation of the Press.js Cloud REST API. Every error is `{error, message}`; ' +
          'decisions where the Press.js docs are silent are listed in docs/api.md.',
      },
      servers: [{ url: '/' }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'pcak_… API key' },
          session: {
            type: 'apiKey', in: 'cookie', name: 'press_session',
            description: 'Signed-in user (POST /v1/sessions). Writes also need X-CSRF-Token; workspace routes need Press-Workspace.',
          },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transformObject: finishOpenApi,
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });

  await app.register(bodiesPlugin, { timeoutMs: opts.bodyLimits?.timeoutMs ?? 60_000, memoryBytes: opts.bodyLimits?.memoryBytes ?? 256 * 1024 * 1024 });
  await app.register(authPlugin, { deps: ctx.deps });
  await app.register(idempotencyPlugin, { deps: ctx.deps });
  if (opts.rateLimitPerMinute) {
    // Runs after authentication (onRequest) and before its failure is answered (preParsing, see authPlugin): a key
    // counts as itself however its header is spelled, and requests without a valid key count per client address.
    await app.register(rateLimit, {
      max: opts.rateLimitPerMinute,
      timeWindow: 60_000,
      keyGenerator: (req) => (req.caller ? `key:${req.caller.keyId}` : `addr:${req.ip}`),
      allowList: (req) => !req.url.startsWith('/v1/'),
      errorResponseBuilder: (_req, c) => ({
        statusCode: 429,
        error: 'rate_limited',
        message: `Rate limit of ${c.max} requests per minute exceeded; retry after ${Math.ceil(c.ttl / 1000)} s.`,
      }),
    });
  }

  const metrics = opts.metrics;
  if (metrics) {
    app.addHook('onResponse', async (req, reply) => {
      metrics.httpDuration.observe(
        { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: `${Math.floor(reply.statusCode / 100)}xx` },
        reply.elapsedTime / 1000,
      );
    });
    app.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (_req, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  }

  if ((opts.surface ?? 'api') === 'api') await app.register(async (v1) => {
    await v1.register(accountRoutes(ctx));
    await v1.register(deployRoutes(ctx));
    await v1.register(uploadRoutes(ctx));
    await v1.register(renderJobRoutes(ctx, closing.signal));
    await v1.register(webhookRoutes(ctx));
    await v1.register(peopleRoutes(ctx));
    await v1.register(memberRoutes(ctx));
    v1.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
  }, { prefix: '/v1' });

  if ((opts.surface ?? 'api') === 'api') registerDashboard(app);

  app.get('/healthz', {
    config: { public: true },
    schema: { operationId: 'healthz', summary: 'Liveness: the process answers', tags: ['Operations'], security: [], response: { 200: Type.Object({ ok: Type.Literal(true) }) } },
  }, async () => ({ ok: true as const }));

  app.get('/readyz', {
    config: { public: true },
    schema: {
      operationId: 'readyz', summary: 'Readiness: database, blob storage and renderer', tags: ['Operations'], security: [],
      response: {
        200: Type.Object({ ready: Type.Boolean(), checks: Type.Record(Type.String(), Type.Object({ ok: Type.Boolean(), detail: Type.Optional(Type.Unknown()) })) }),
        503: Type.Object({ ready: Type.Boolean(), checks: Type.Record(Type.String(), Type.Object({ ok: Type.Boolean(), detail: Type.Optional(Type.Unknown()) })) }),
      },
    },
  }, async (_req, reply) => {
    const checks: Record<string, { ok: boolean; detail?: unknown }> = {};
    const all: Record<string, () => Promise<unknown>> = {
      database: async () => {
        await ctx.deps.db.ping();
        return ctx.deps.db.description;
      },
      blobStorage: async () => {
        await ctx.deps.blobs.check();
        return ctx.deps.blobs.description;
      },
      ...ctx.readiness,
    };
    await Promise.all(Object.entries(all).map(async ([name, check]) => {
      try {
        const detail = await check();
        checks[name] = detail === undefined ? { ok: true } : { ok: true, detail };
      } catch (err) {
        checks[name] = { ok: false, detail: (err as Error).message };
      }
    }));
    const ready = Object.values(checks).every((c) => c.ok);
    return reply.code(ready ? 200 : 503).send({ ready, checks });
  });

  return app;
}
