import type { Readable } from 'node:stream';
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import * as uploads from '../../domain/uploads.js';
import { UPLOAD_LIMITS } from '../../domain/policy.js';
import { Errors } from '../../domain/errors.js';
import type { AppContext } from '../context.js';
import { Id, IdempotencyHeaders, Millis, NullableMillis, errors } from '../schemas/common.js';
import { DeployName, DeployVersion, FileEntry, Slug } from '../schemas/deploys.js';

const tags = ['Upload sessions'];
const SessionParams = Type.Object({ uploadSessionId: Id('us') });
const TokenHeaders = Type.Object({
  'x-upload-token': Type.Optional(Type.String({ maxLength: 256, description: 'ustk_… returned when the session was created' })),
});
const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' });

const UploadSession = Type.Object(
  {
    id: Id('us'), deployId: Id('dpl'),
    status: Type.Union([Type.Literal('open'), Type.Literal('committed'), Type.Literal('expired')]),
    requestedFileCount: Type.Integer(), requestedBytes: Type.Integer(),
    requestedBlobCount: Type.Optional(Type.Integer({ description: 'distinct blobs in the manifest' })),
    uploadedBlobCount: Type.Optional(Type.Integer({ description: 'distinct blobs of the manifest the server holds' })),
    uploadedBytes: Type.Optional(Type.Integer()),
    createdAt: Millis(), expiresAt: Millis(), committedAt: NullableMillis(),
    deployVersionId: Type.Union([Id('dv'), Type.Null()]),
  },
  { title: 'UploadSession', additionalProperties: false },
);

export const uploadRoutes = (ctx: AppContext): FastifyPluginAsyncTypebox => async (app) => {
  const d = ctx.deps;
  // Blob bodies are streamed straight to the blob store, never buffered.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  app.post('/upload-sessions', {
    config: { idempotent: true, role: 'editor', tooLargeCode: 'upload_session_too_large' },
    bodyLimit: 4 * 1024 * 1024,
    schema: {
      operationId: 'createUploadSession', summary: 'Start an upload: send the manifest, get a session and its upload token (shown once)', tags,
      headers: IdempotencyHeaders,
      body: Type.Object(
        {
          deployId: Type.Optional(Id('dpl')),
          createDeploy: Type.Optional(Type.Object({ slug: Slug, name: DeployName }, { additionalProperties: false })),
          files: Type.Array(FileEntry, { minItems: 1, maxItems: 20_000 }),
        },
        { additionalProperties: false },
      ),
      response: { 201: Type.Object({ uploadSession: UploadSession, uploadToken: Type.String() }), ...errors(404, 409, 422) },
    },
  }, async (req, reply) => reply.code(201).send(await uploads.createUploadSession(d, req.caller, req.body)));

  app.get('/upload-sessions/:uploadSessionId', {
    schema: {
      operationId: 'getUploadSession', summary: 'Status of an upload session and how much is uploaded', tags, params: SessionParams,
      response: { 200: Type.Object({ uploadSession: UploadSession }), ...errors(404) },
    },
  }, async (req) => uploads.getUploadSession(d, req.caller, req.params.uploadSessionId));

  app.post('/upload-sessions/:uploadSessionId/missing-blobs', {
    schema: {
      operationId: 'getMissingBlobs', summary: 'Which of the session\'s blobs the server lacks (per account)', tags, params: SessionParams, headers: TokenHeaders,
      body: Type.Object({ sha256: Type.Optional(Type.Array(Sha256, { maxItems: 20_000 })) }, { additionalProperties: false }),
      response: {
        200: Type.Object({ uploadSessionId: Id('us'), missing: Type.Array(Sha256), missingBytes: Type.Integer() }),
        ...errors(404, 409, 410),
      },
    },
  }, async (req) => uploads.missingBlobs(d, req.caller, req.params.uploadSessionId, req.headers['x-upload-token'], req.body.sha256));

  app.put('/upload-sessions/:uploadSessionId/blobs/:sha256', {
    schema: {
      operationId: 'uploadUploadSessionBlob', summary: 'Upload one blob\'s raw bytes (application/octet-stream); hash and size are verified', tags,
      params: Type.Object({ uploadSessionId: Id('us'), sha256: Sha256 }), headers: TokenHeaders,
      consumes: ['application/octet-stream'],
      body: Type.Unsafe<Readable>({ description: `raw bytes, ≤ ${UPLOAD_LIMITS.maxSingleFileBytes} bytes` }),
      response: {
        200: Type.Object({
          uploadSessionId: Id('us'), alreadyPresent: Type.Boolean(),
          blob: Type.Object({ sha256: Sha256, size: Type.Integer(), mime: Type.String(), r2Key: Type.String({ description: 'storage key of the blob' }) }),
        }),
        ...errors(404, 409, 410),
      },
    },
  }, async (req) => {
    if (!req.body || typeof (req.body as Readable).pipe !== 'function') {
      throw Errors.invalidInput('Send the blob as "Content-Type: application/octet-stream".');
    }
    // refused before a byte is read (the connection closes after a short drain, see plugins/bodies.ts)
    if (Number(req.headers['content-length']) > UPLOAD_LIMITS.maxSingleFileBytes) {
      throw Errors.uploadBlobBodyTooLarge(`The body is ${req.headers['content-length']} bytes; blobs are limited to ${UPLOAD_LIMITS.maxSingleFileBytes} bytes.`);
    }
    return uploads.putBlob(d, req.caller, req.params.uploadSessionId, req.headers['x-upload-token'], req.params.sha256, req.body as Readable);
  });

  app.post('/upload-sessions/:uploadSessionId/commit', {
    schema: {
      operationId: 'commitUploadSession', summary: 'Commit: creates an immutable deploy version, optionally pointing aliases at it', tags,
      params: SessionParams, headers: TokenHeaders,
      body: Type.Object({ aliases: Type.Optional(Type.Array(Type.String({ maxLength: 63 }), { maxItems: 20 })) }, { additionalProperties: false }),
      response: { 201: Type.Object({ deployVersion: DeployVersion, uploadSession: UploadSession }), ...errors(404, 409, 410) },
    },
  }, async (req, reply) =>
    reply.code(201).send(await uploads.commitUploadSession(d, req.caller, req.params.uploadSessionId, req.headers['x-upload-token'], req.body)));
};
