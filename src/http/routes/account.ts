import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import * as accounts from '../../domain/accounts.js';
import { getUsage } from '../../domain/usage.js';
import type { AppContext } from '../context.js';
import { Id, IdempotencyHeaders, Millis, NoContent, NullableMillis, Page, PageQuery, errors } from '../schemas/common.js';

const Role = Type.Union([Type.Literal('admin'), Type.Literal('editor'), Type.Literal('viewer')]);

const Account = Type.Object(
  {
    id: Id('acct'), name: Type.String(), createdAt: Millis(),
    plan: Type.Object({ key: Type.Union([Type.Literal('unlimited'), Type.Literal('free'), Type.Literal('starter'), Type.Literal('pro')]), name: Type.String() }),
    webhook: Type.Object({
      signingSecretPreview: Type.String({ description: 'masked: whsec_******…abcd' }),
      signingSecret: Type.Optional(Type.String({ description: 'only in the PATCH response that rotated it' })),
    }),
  },
  { title: 'Account', additionalProperties: false },
);

const ApiKey = Type.Object(
  {
    id: Id('key'), name: Type.String(), role: Role, prefix: Type.String({ description: 'first characters of the key, to recognise it' }),
    createdAt: Millis(), lastUsedAt: NullableMillis('last use (updated at most once a minute)'), disabledAt: NullableMillis(),
  },
  { title: 'ApiKey', additionalProperties: false },
);

const NullableInt = Type.Union([Type.Integer(), Type.Null()]);
const Usage = Type.Object(
  {
    period: Type.Object({
      kind: Type.Literal('current_bill_period'), start: Millis(), end: Millis(), usageDayStart: Millis(), usageDayEndExclusive: Millis(),
    }),
    plan: Type.Object({ key: Type.String(), name: Type.String(), currency: Type.String(), interval: Type.String(), monthlyPriceCents: Type.Integer() }),
    policy: Type.Object({
      allowExternalNetwork: Type.Boolean(), maxBytesPerDeployCommit: NullableInt, maxConcurrentRenderJobs: NullableInt,
      maxDeployCommitsPerBillPeriod: NullableInt, maxFilesPerDeployCommit: NullableInt, maxRenderJobsPerBillPeriod: NullableInt,
      maxRenderOutputBytes: NullableInt, maxRenderTimeMsPerBillPeriod: NullableInt, maxRenderTimeoutMs: Type.Integer(),
      storageLimitBytes: NullableInt,
    }, { description: 'null = unlimited' }),
    usageMeters: Type.Array(Type.Object({
      code: Type.Union([Type.Literal('deploy_commits'), Type.Literal('render_jobs'), Type.Literal('render_time_ms')]),
      aggregation: Type.Literal('sum'), totalQuantity: Type.Integer(), unit: Type.String(), version: Type.Integer(), limit: NullableInt,
    })),
    liveStorage: Type.Object({
      deployVersionStorageBytes: Type.Integer(), managedPdfStorageBytes: Type.Integer(), renderOutputStorageBytes: Type.Integer(), totalBytes: Type.Integer(),
    }),
    uploadLimits: Type.Object({ maxSingleFileBytes: Type.Integer(), maxSessionBytes: Type.Integer(), maxSessionFiles: Type.Integer() }),
    storageMeters: Type.Array(Type.Object({ code: Type.String(), totalBytes: Type.Integer(), limitBytes: NullableInt })),
    bill: Type.Null({ description: 'null: no billing provider is configured' }),
    generatedAt: Millis(),
  },
  { title: 'Usage', additionalProperties: false },
);

export const accountRoutes = (ctx: AppContext): FastifyPluginAsyncTypebox => async (app) => {
  const d = ctx.deps;

  app.get('/account', {
    schema: { operationId: 'getAccount', summary: 'Get the account of the API key', tags: ['Account'], response: { 200: Type.Object({ account: Account }), ...errors() } },
  }, async (req) => ({ account: await accounts.getAccount(d, req.caller) }));

  app.patch('/account', {
    schema: {
      operationId: 'updateAccount', summary: 'Rename the account or rotate its webhook signing secret (admin)', tags: ['Account'],
      body: Type.Object({
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        webhook: Type.Optional(Type.Object({ signingSecretAction: Type.Literal('rotate') }, { additionalProperties: false })),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ account: Account }), ...errors() },
    },
  }, async (req) => ({ account: await accounts.patchAccount(d, req.caller, req.body) }));

  app.get('/api-keys', {
    schema: { operationId: 'listApiKeys', summary: 'List API keys (admin)', tags: ['API keys'], querystring: PageQuery, response: { 200: Page(ApiKey, 'ApiKeyList'), ...errors() } },
  }, async (req) => accounts.listApiKeys(d, req.caller, req.query));

  app.post('/api-keys', {
    config: { idempotent: true },
    schema: {
      operationId: 'createApiKey', summary: 'Create an API key (admin); the key is shown once', tags: ['API keys'], headers: IdempotencyHeaders,
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }), role: Role }, { additionalProperties: false }),
      response: { 201: Type.Object({ apiKey: ApiKey, key: Type.String({ description: 'pcak_… — store it now, it cannot be shown again' }) }), ...errors(409, 422) },
    },
  }, async (req, reply) => reply.code(201).send(await accounts.createApiKey(d, req.caller, req.body)));

  app.delete('/api-keys/:keyId', {
    schema: {
      operationId: 'disableApiKey', summary: 'Disable an API key (admin); later use answers 403 api_key_disabled', tags: ['API keys'],
      params: Type.Object({ keyId: Id('key') }), response: { 204: NoContent, ...errors(404) },
    },
  }, async (req, reply) => {
    await accounts.disableApiKey(d, req.caller, req.params.keyId);
    return reply.code(204).send();
  });

  app.get('/usage', {
    schema: { operationId: 'getUsage', summary: 'Plan, policy, usage meters and live storage for the current bill period', tags: ['Usage'], response: { 200: Usage, ...errors() } },
  }, async (req, reply) => {
    reply.header('cache-control', 'private, no-store');
    return getUsage(d, req.caller, ctx.hooks.outputBytes);
  });
};
