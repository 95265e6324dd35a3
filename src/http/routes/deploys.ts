import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import * as deploys from '../../domain/deploys.js';
import type { AppContext } from '../context.js';
import { Id, IdempotencyHeaders, NoContent, Page, PageQuery, errors } from '../schemas/common.js';
import { Alias, Deploy, DeployDetail, DeployName, DeployVersion, FileEntry, Slug } from '../schemas/deploys.js';

const tags = ['Deploys'];
const DeployParams = Type.Object({ deployId: Id('dpl') });
const VersionParams = Type.Object({ deployId: Id('dpl'), deployVersionId: Id('dv') });
const AliasParams = Type.Object({ deployId: Id('dpl'), alias: Type.String({ minLength: 1, maxLength: 63 }) });

const VarName = Type.String({ pattern: deploys.VAR_NAME_PATTERN });
const Settings = Type.Object(
  {
    webhook: Type.Object(
      {
        enabled: Type.Boolean(),
        url: Type.Union([Type.String(), Type.Null()]),
        signingSecretPreview: Type.Union([Type.String(), Type.Null()], { description: 'masked deploy secret; null = the account secret signs' }),
        signingSecret: Type.Optional(Type.String({ description: 'only in the response that rotated it' })),
      },
      { additionalProperties: false },
    ),
    env: Type.Record(Type.String(), Type.String()),
    secrets: Type.Array(Type.String(), { description: 'names only: secrets are write-only' }),
  },
  { title: 'DeploySettings', additionalProperties: false },
);

export const deployRoutes = (ctx: AppContext): FastifyPluginAsyncTypebox => async (app) => {
  const d = ctx.deps;

  app.post('/deploys', {
    config: { idempotent: true, role: 'editor' },
    schema: {
      operationId: 'createDeploy', summary: 'Create a deploy', tags, headers: IdempotencyHeaders,
      body: Type.Object({ slug: Slug, name: DeployName }, { additionalProperties: false }),
      response: { 201: Type.Object({ deploy: Deploy }), ...errors(409, 422) },
    },
  }, async (req, reply) => reply.code(201).send(await deploys.createDeploy(d, req.caller, req.body)));

  app.get('/deploys', {
    schema: { operationId: 'listDeploys', summary: 'List deploys', tags, querystring: PageQuery, response: { 200: Page(Deploy, 'DeployList'), ...errors() } },
  }, async (req) => deploys.listDeploys(d, req.caller, req.query));

  app.get('/deploys/:deployId', {
    schema: { operationId: 'getDeploy', summary: 'Get a deploy', tags, params: DeployParams, response: { 200: Type.Object({ deploy: DeployDetail }), ...errors(404) } },
  }, async (req) => deploys.getDeploy(d, req.caller, req.params.deployId));

  app.patch('/deploys/:deployId', {
    schema: {
      operationId: 'updateDeploy', summary: 'Rename a deploy or change its slug', tags, params: DeployParams,
      body: Type.Object({ slug: Type.Optional(Slug), name: Type.Optional(DeployName) }, { additionalProperties: false }),
      response: { 200: Type.Object({ deploy: Deploy }), ...errors(404, 409) },
    },
  }, async (req) => deploys.patchDeploy(d, req.caller, req.params.deployId, req.body));

  app.delete('/deploys/:deployId', {
    schema: {
      operationId: 'deleteDeploy', summary: 'Delete a deploy (its unfinished render jobs are canceled; managed PDFs stay)', tags,
      params: DeployParams, response: { 204: NoContent, ...errors(404) },
    },
  }, async (req, reply) => {
    await deploys.deleteDeploy(d, req.caller, req.params.deployId, ctx.hooks.onDeployDeleted);
    return reply.code(204).send();
  });

  app.get('/deploys/:deployId/versions', {
    schema: {
      operationId: 'listDeployVersions', summary: 'List the versions of a deploy', tags: ['Deploy versions'], params: DeployParams, querystring: PageQuery,
      response: { 200: Page(DeployVersion, 'DeployVersionList'), ...errors(404) },
    },
  }, async (req) => deploys.listVersions(d, req.caller, req.params.deployId, req.query));

  app.get('/deploys/:deployId/versions/:deployVersionId', {
    schema: {
      operationId: 'getDeployVersion', summary: 'Get a deploy version', tags: ['Deploy versions'], params: VersionParams,
      response: { 200: Type.Object({ deployVersion: DeployVersion }), ...errors(404) },
    },
  }, async (req) => deploys.getVersion(d, req.caller, req.params.deployId, req.params.deployVersionId));

  app.get('/deploys/:deployId/versions/:deployVersionId/files', {
    schema: {
      operationId: 'listDeployVersionFiles', summary: 'List the files of a deploy version (path order)', tags: ['Deploy versions'], params: VersionParams,
      querystring: Type.Object({
        cursor: Type.Optional(Type.String({ maxLength: 2048 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 100 })),
      }, { additionalProperties: false }),
      response: { 200: Page(FileEntry, 'FileList'), ...errors(404) },
    },
  }, async (req) => deploys.listVersionFiles(d, req.caller, req.params.deployId, req.params.deployVersionId, req.query));

  app.put('/deploys/:deployId/aliases/:alias', {
    schema: {
      operationId: 'putAlias', summary: 'Point an alias at a version (production needs admin)', tags: ['Aliases'], params: AliasParams,
      body: Type.Object({ deployVersionId: Id('dv') }, { additionalProperties: false }),
      response: { 200: Type.Object({ alias: Alias }), ...errors(404) },
    },
  }, async (req) => deploys.putAlias(d, req.caller, req.params.deployId, req.params.alias, req.body.deployVersionId));

  app.get('/deploys/:deployId/aliases', {
    schema: {
      operationId: 'listAliases', summary: 'List the aliases of a deploy', tags: ['Aliases'], params: DeployParams,
      response: { 200: Page(Alias, 'AliasList'), ...errors(404) },
    },
  }, async (req) => deploys.listAliases(d, req.caller, req.params.deployId));

  app.delete('/deploys/:deployId/aliases/:alias', {
    schema: { operationId: 'deleteAlias', summary: 'Remove an alias', tags: ['Aliases'], params: AliasParams, response: { 204: NoContent, ...errors(404) } },
  }, async (req, reply) => {
    await deploys.deleteAlias(d, req.caller, req.params.deployId, req.params.alias);
    return reply.code(204).send();
  });

  app.get('/deploys/:deployId/settings', {
    schema: {
      operationId: 'getDeploySettings', summary: 'Get webhook, env and secret names of a deploy', tags: ['Deploy settings'], params: DeployParams,
      response: { 200: Type.Object({ settings: Settings }), ...errors(404) },
    },
  }, async (req) => deploys.getSettings(d, req.caller, req.params.deployId));

  app.patch('/deploys/:deployId/settings', {
    schema: {
      operationId: 'updateDeploySettings', summary: 'Change webhook, env vars and secrets (null deletes)', tags: ['Deploy settings'], params: DeployParams,
      body: Type.Object(
        {
          webhook: Type.Optional(Type.Object({
            enabled: Type.Optional(Type.Boolean()),
            url: Type.Optional(Type.Union([Type.String({ maxLength: 2048 }), Type.Null()])),
            signingSecretAction: Type.Optional(Type.Union(deploys.SIGNING_SECRET_ACTIONS.map((a) => Type.Literal(a)), {
              description: 'enable: the deploy gets its own secret (if it has none); rotate: a new one; disable (or clear): the account secret signs. A new secret is shown once, in this response',
            })),
          }, { additionalProperties: false })),
          env: Type.Optional(Type.Record(VarName, Type.Union([Type.String(), Type.Null()]), { maxProperties: 100 })),
          secrets: Type.Optional(Type.Record(VarName, Type.Union([Type.String(), Type.Null()]), { maxProperties: 100 })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Type.Object({ settings: Settings }), ...errors(404) },
    },
  }, async (req) => deploys.patchSettings(d, req.caller, req.params.deployId, req.body));
};
