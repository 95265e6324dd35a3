import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import * as accounts from '../../domain/accounts.js';
import { getDailyUsage, getUsage } from '../../domain/usage.js';
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
    userId: Type.Union([Id('usr'), Type.Null()], {
      description: 'the user who created the key; it acts with their current membership (null: made before the workspace had users)',
    }),
    createdAt: Millis(), lastUsedAt: NullableMillis('last use (updated at most once a minute)'), disabledAt: NullableMillis(),
  },
  { title: 'ApiKey', additionalProperties: false },
);

const NullableInt = Type.Union([Type.Integer(), Type.Null()]);
const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD (UTC)' });
const Usage = Type.Object(
  {
    period: Type.Object({
      kind: Type.Literal('current_bill_period'), start: Millis(), end: Millis('end of the period (exclusive)'),
      usageDayStart: Day, usageDayEndExclusive: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'the day after the period ends' }),
    }),
    plan: Type.Object({
      key: Type.String({ description: 'free, starter or pro; `unlimited` is the self-hosted default (an addition to the docs)' }),
      name: Type.String(), currency: Type.String(), interval: Type.String(), monthlyPriceCents: Type.Integer(),
    }),
    policy: Type.Object({
      allowExternalNetwork: Type.Boolean(), maxBytesPerDeployCommit: NullableInt, maxConcurrentRenderJobs: NullableInt,
      maxDeployCommitsPerBillPeriod: NullableInt, maxFilesPerDeployCommit: NullableInt, maxRenderJobsPerBillPeriod: NullableInt,
      maxRenderOutputBytes: NullableInt, maxRenderTimeMsPerBillPeriod: NullableInt, maxRenderTimeoutMs: Type.Integer(),
      storageLimitBytes: NullableInt,
    }, { description: 'null = unlimited; bytes are binary (10 MB = 10 485 760)' }),
    usageMeters: Type.Array(Type.Object({
      code: Type.Union([Type.Literal('deploy_commits'), Type.Literal('render_jobs'), Type.Literal('render_time_ms')]),
      aggregation: Type.Union([Type.Literal('count'), Type.Literal('sum')]), totalQuantity: Type.Integer(),
      unit: Type.Union([Type.Literal('count'), Type.Literal('ms')]), version: Type.Literal('1'),
    })),
    liveStorage: Type.Object({
      deployVersionStorageBytes: Type.Integer(), managedPdfStorageBytes: Type.Integer(), renderOutputStorageBytes: Type.Integer(), totalBytes: Type.Integer(),
    }),
    uploadLimits: Type.Object({ maxSingleFileBytes: Type.Integer() }),
    storageMeters: Type.Array(Type.Object({
      code: Type.Literal('managed_pdf_storage'), aggregation: Type.Literal('daily_peak'), unit: Type.Literal('bytes'),
      currentBytes: Type.Integer(),
      peakBytesByDay: Type.Array(Type.Object({ day: Day, peakBytes: Type.Integer(), peakGiBDay: Type.Number({ description: 'peakBytes / 2^30' }) }), {
        description: 'each day of the period so far, today included',
      }),
      totalPeakBytes: Type.Integer({ description: 'sum of the daily peaks' }), totalPeakGiBDays: Type.Number(), version: Type.Literal('1'),
    })),
    bill: Type.Object({
      provider: Type.String({ description: '`none` when self-hosted (no billing provider)' }), interval: Type.String(),
      periodStart: Millis(), periodEnd: Millis(),
    }),
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
    config: { idempotent: true, role: 'admin' },
    schema: {
      operationId: 'createApiKey', summary: 'Create an API key (admin); the key is shown once', tags: ['API keys'], headers: IdempotencyHeaders,
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }), role: Role }, { additionalProperties: false }),
      response: { 201: Type.Object({ apiKey: ApiKey, key: Type.String({ description: 'pcak_… — store it now, it cannot be shown again' }) }), ...errors(409, 422) },
    },
  }, async (req, reply) => reply.code(201).send(await accounts.createApiKey(d, req.caller, req.body)));

  app.delete('/api-keys/:keyId', {
    schema: {
      operationId: 'disableApiKey', summary: 'Disable an API key, or delete it for good with ?permanent=true (admin)', tags: ['API keys'],
      description:
        'Without `permanent` the key is disabled (spec §2): later use answers 403 `api_key_disabled` and it can be enabled again. ' +
        'With `permanent=true` it is deleted: later use answers 401 `invalid_api_key` at once, it leaves the list, and cannot come back; ' +
        'the audit log keeps its id (`api_key.deleted`).',
      params: Type.Object({ keyId: Id('key') }),
      querystring: Type.Object({ permanent: Type.Optional(Type.Boolean({ description: 'true deletes the key instead of disabling it' })) }),
      response: { 204: NoContent, ...errors(404) },
    },
  }, async (req, reply) => {
    if (req.query.permanent) await accounts.deleteApiKey(d, req.caller, req.params.keyId);
    else await accounts.disableApiKey(d, req.caller, req.params.keyId);
    return reply.code(204).send();
  });

  app.patch('/api-keys/:keyId', {
    schema: {
      operationId: 'updateApiKey', summary: 'Disable an API key or enable it again (admin)', tags: ['API keys'],
      params: Type.Object({ keyId: Id('key') }),
      body: Type.Object({ disabled: Type.Optional(Type.Boolean({ description: 'true disables the key, false enables it again' })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ apiKey: ApiKey }), ...errors(404) },
    },
  }, async (req) => accounts.updateApiKey(d, req.caller, req.params.keyId, req.body));

  app.get('/usage', {
    schema: { operationId: 'getUsage', summary: 'Plan, policy, usage meters and live storage for the current bill period', tags: ['Usage'], response: { 200: Usage, ...errors() } },
  }, async (req, reply) => {
    reply.header('cache-control', 'private, no-store');
    return getUsage(d, req.caller, ctx.hooks.outputBytes);
  });

  app.get('/usage/daily', {
    schema: {
      operationId: 'getDailyUsage', summary: 'The usage meters per UTC day of the current bill period (an addition to the docs)', tags: ['Usage'],
      response: {
        200: Type.Object({
          period: Type.Object({ start: Millis(), end: Millis('end of the period (exclusive)') }),
          days: Type.Array(Type.Object({
            day: Day, deployCommits: Type.Integer(), renderJobs: Type.Integer({ description: 'render jobs requested that day' }),
            renderTimeMs: Type.Integer({ description: 'render time of the attempts that ended that day' }),
          }), { description: 'each day of the period from its first to today, oldest first' }),
        }, { title: 'DailyUsage', additionalProperties: false }),
        ...errors(),
      },
    },
  }, async (req, reply) => {
    reply.header('cache-control', 'private, no-store');
    return getDailyUsage(d, req.caller);
  });
};
