import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import * as jobs from '../../domain/render-jobs.js';
import { RENDER_JOB_STATUSES } from '../../model/records.js';
import { MEDIA_TYPE_PATTERN } from '../../domain/media-type.js';
import type { AppContext } from '../context.js';
import { Id, IdempotencyHeaders, NoContent, Page, PageQuery, errors } from '../schemas/common.js';
import { Access, LinkBody, Pdf, PdfOptions, RenderJob } from '../schemas/render-jobs.js';

const JobParams = Type.Object({ jobId: Id('rj') });
const PdfParams = Type.Object({ pdfId: Id('pdf') });
const Wait = Type.Object(
  { wait: Type.Optional(Type.Integer({ minimum: 0, maximum: jobs.MAX_WAIT_SECONDS, description: 'hold the response up to N seconds until the job is terminal' })) },
  { additionalProperties: false },
);
const PdfBinary = Type.Unsafe<unknown>({ type: 'string', format: 'binary', contentMediaType: 'application/pdf', description: 'the PDF' });

const CreateBody = Type.Object(
  {
    deployId: Type.Optional(Id('dpl')),
    deployVersionId: Type.Optional(Type.String({ minLength: 1, maxLength: 80, description: '`dv_…`, `latest` (default) or an alias name' })),
    businessKey: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()], { description: 'your reference (invoice number…); filterable' })),
    payload: Type.Optional(Type.Unknown({ description: 'any JSON value, canonicalised (sorted keys); with a non-JSON payloadMime, a UTF-8 string (CSV, XML, text). Default null' })),
    payloadBase64: Type.Optional(Type.String({ maxLength: 14_000_000, description: 'binary payload; needs a non-JSON payloadMime' })),
    payloadMime: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: MEDIA_TYPE_PATTERN, description: 'a media type; default application/json; charset=utf-8' })),
    outputMode: Type.Optional(Type.Union([Type.Literal('transient'), Type.Literal('managed')], { description: 'default transient (kept 24 h)' })),
    entry: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'path of the document in the version, default index.html' })),
    fileName: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'default <businessKey or job id>.pdf' })),
    pdfOptions: Type.Optional(PdfOptions),
    timeoutMs: Type.Optional(Type.Integer({
      minimum: 1000, maximum: 3_600_000,
      description: "[ours] this job's render limit in ms (press.toml's `timeout`); at most the plan's maxRenderTimeoutMs, which is the default",
    })),
  },
  { additionalProperties: false },
);
const Accepted = Type.Object({ accepted: Type.Literal(true), queue: Type.Literal('default'), job: RenderJob });

/** RFC 6266 Content-Disposition with an ASCII fallback and the UTF-8 name. */
export function contentDisposition(kind: 'attachment' | 'inline', fileName: string) {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}

export function sendPdf(reply: FastifyReply, pdf: jobs.PdfStream, kind: 'attachment' | 'inline') {
  return reply
    .type('application/pdf')
    .header('content-length', pdf.bytes)
    .header('content-disposition', contentDisposition(kind, pdf.fileName))
    .header('cache-control', 'private, no-store')
    .header('x-content-type-options', 'nosniff')
    .send(pdf.stream);
}

/** `closing`: aborted when the server starts shutting down; ?wait requests then answer with the job as it is. */
export const renderJobRoutes = (ctx: AppContext, closing: AbortSignal): FastifyPluginAsyncTypebox => async (app) => {
  const d = ctx.deps;
  const now = () => d.clock.now();
  const accepted = async (job: Awaited<ReturnType<typeof jobs.createRenderJob>>, wait: number | undefined, caller: Parameters<typeof jobs.waitForJob>[1]) => {
    const latest = wait ? await jobs.waitForJob(d, caller, job.id, wait, closing) : job;
    return { accepted: true as const, queue: 'default' as const, job: jobs.jobView(latest, now()) };
  };

  app.post('/render-jobs', {
    config: { idempotent: true, role: 'editor', tooLargeCode: 'render_payload_too_large' },
    bodyLimit: 16 * 1024 * 1024,
    schema: {
      operationId: 'createRenderJob', summary: 'Queue a render job (202); ?wait=N holds the answer until it ends', tags: ['Render jobs'],
      headers: IdempotencyHeaders, querystring: Wait, body: CreateBody, response: { 202: Accepted, ...errors(404, 409, 422) },
    },
  }, async (req, reply) => reply.code(202).send(await accepted(await jobs.createRenderJob(d, req.caller, req.body), req.query.wait, req.caller)));

  app.post('/deploys/:deployId/render-jobs', {
    config: { idempotent: true, role: 'editor', tooLargeCode: 'render_payload_too_large' },
    bodyLimit: 16 * 1024 * 1024,
    schema: {
      operationId: 'createDeployRenderJob', summary: 'Queue a render job of this deploy (a body deployId must match)', tags: ['Render jobs'],
      params: Type.Object({ deployId: Id('dpl') }), headers: IdempotencyHeaders, querystring: Wait, body: CreateBody,
      response: { 202: Accepted, ...errors(404, 409, 422) },
    },
  }, async (req, reply) =>
    reply.code(202).send(await accepted(await jobs.createRenderJob(d, req.caller, req.body, req.params.deployId), req.query.wait, req.caller)));

  app.get('/render-jobs', {
    schema: {
      operationId: 'listRenderJobs', summary: 'List render jobs, newest first', tags: ['Render jobs'],
      querystring: Type.Object({
        ...PageQuery.properties,
        deployId: Type.Optional(Id('dpl')),
        status: Type.Optional(Type.String({ enum: [...RENDER_JOB_STATUSES] })),
        businessKey: Type.Optional(Type.String({ maxLength: 255 })),
      }, { additionalProperties: false }),
      response: { 200: Page(RenderJob, 'RenderJobList'), ...errors() },
    },
  }, async (req) => jobs.listRenderJobs(d, req.caller, req.query as Parameters<typeof jobs.listRenderJobs>[2]));

  app.get('/render-jobs/:jobId', {
    schema: {
      operationId: 'getRenderJob', summary: 'Get a render job; ?wait=N long-polls until it ends', tags: ['Render jobs'], params: JobParams, querystring: Wait,
      response: { 200: Type.Object({ job: RenderJob }), ...errors(404) },
    },
  }, async (req) => ({ job: jobs.jobView(await jobs.waitForJob(d, req.caller, req.params.jobId, req.query.wait ?? 0, closing), now()) }));

  app.post('/render-jobs/:jobId/cancel', {
    schema: {
      operationId: 'cancelRenderJob', summary: 'Cancel a queued, scheduled or rendering job', tags: ['Render jobs'], params: JobParams,
      body: Type.Object({}, { additionalProperties: false }),
      response: { 200: Type.Object({ job: RenderJob }), ...errors(404, 409) },
    },
  }, async (req) => ({ job: jobs.jobView(await jobs.cancelRenderJob(d, req.caller, req.params.jobId), now()) }));

  app.delete('/render-jobs/:jobId', {
    schema: {
      operationId: 'deleteRenderJob', summary: 'Delete a finished job and its transient output (managed PDFs stay)', tags: ['Render jobs'],
      params: JobParams, response: { 204: NoContent, ...errors(404, 409) },
    },
  }, async (req, reply) => {
    await jobs.deleteRenderJob(d, req.caller, req.params.jobId);
    return reply.code(204).send();
  });

  app.get('/render-jobs/:jobId/output', {
    schema: {
      operationId: 'getRenderJobOutput', summary: 'Download the PDF of a succeeded job', tags: ['Render outputs'], params: JobParams,
      produces: ['application/pdf'], response: { 200: PdfBinary, ...errors(404, 410) },
    },
  }, async (req, reply) => sendPdf(reply, await jobs.openJobOutput(d, req.caller, req.params.jobId), 'attachment'));

  for (const [kind, disposition] of [['download', 'attachment'], ['preview', 'inline']] as const) {
    app.post(`/render-jobs/:jobId/output/${kind}`, {
      schema: {
        operationId: `${kind}RenderJobOutput`, summary: `Create a signed ${kind} link (${disposition}) to the job's PDF`, tags: ['Render outputs'],
        params: JobParams, body: LinkBody, response: { 200: Access, ...errors(404, 410) },
      },
    }, async (req) => jobs.jobOutputLink(d, req.caller, req.params.jobId, disposition, req.body.expiresInSeconds));

    app.post(`/pdfs/:pdfId/${kind}`, {
      schema: {
        operationId: kind === 'download' ? 'createPdfDownload' : 'createPdfPreview', summary: `Create a signed ${kind} link (${disposition}) to a managed PDF`, tags: ['Managed PDFs'],
        params: PdfParams, body: LinkBody, response: { 200: Access, ...errors(404) },
      },
    }, async (req) => jobs.pdfLink(d, req.caller, req.params.pdfId, disposition, req.body.expiresInSeconds));
  }

  app.delete('/render-jobs/:jobId/output', {
    schema: {
      operationId: 'deleteRenderJobOutput', summary: 'Delete the PDF of a job (for managed jobs: the managed PDF)', tags: ['Render outputs'],
      params: JobParams, response: { 204: NoContent, ...errors(404) },
    },
  }, async (req, reply) => {
    await jobs.deleteJobOutput(d, req.caller, req.params.jobId);
    return reply.code(204).send();
  });

  app.get('/pdfs', {
    schema: {
      operationId: 'listPdfs', summary: 'List managed PDFs', tags: ['Managed PDFs'],
      querystring: Type.Object({ ...PageQuery.properties, deployId: Type.Optional(Id('dpl')) }, { additionalProperties: false }),
      response: { 200: Page(Pdf, 'PdfList'), ...errors() },
    },
  }, async (req) => jobs.listPdfs(d, req.caller, req.query));

  app.get('/pdfs/:pdfId', {
    schema: { operationId: 'getPdf', summary: 'Get a managed PDF', tags: ['Managed PDFs'], params: PdfParams, response: { 200: Type.Object({ pdf: Pdf }), ...errors(404) } },
  }, async (req) => ({ pdf: jobs.pdfView(await jobs.loadPdf(d, req.caller, req.params.pdfId)) }));

  app.get('/pdfs/:pdfId/content', {
    schema: {
      operationId: 'getPdfContent', summary: 'Download a managed PDF', tags: ['Managed PDFs'], params: PdfParams,
      produces: ['application/pdf'], response: { 200: PdfBinary, ...errors(404) },
    },
  }, async (req, reply) => sendPdf(reply, await jobs.openPdf(d, req.caller, req.params.pdfId), 'attachment'));

  app.delete('/pdfs/:pdfId', {
    schema: { operationId: 'deletePdf', summary: 'Delete a managed PDF', tags: ['Managed PDFs'], params: PdfParams, response: { 204: NoContent, ...errors(404) } },
  }, async (req, reply) => {
    await jobs.deletePdf(d, req.caller, req.params.pdfId);
    return reply.code(204).send();
  });

  const SignedQuery = Type.Object({
    account: Id('acct'),
    disposition: Type.Union([Type.Literal('attachment'), Type.Literal('inline')]),
    expires: Type.Integer({ minimum: 0 }),
    signature: Type.String({ minLength: 1, maxLength: 128 }),
  });
  const signedResponses = { 200: PdfBinary, ...errors(404, 410) };

  app.get('/signed/render-jobs/:jobId/output', {
    config: { public: true },
    schema: {
      operationId: 'signedRenderJobOutput', summary: 'Follow a signed download/preview link to a job\'s PDF (no API key)', tags: ['Signed links'], security: [],
      params: JobParams, querystring: SignedQuery, produces: ['application/pdf'], response: signedResponses,
    },
  }, async (req, reply) => {
    const q = req.query;
    const pdf = await jobs.openSignedLink(d, { kind: 'render-job-output', accountId: q.account, id: req.params.jobId }, q);
    return sendPdf(reply, pdf, q.disposition);
  });

  app.get('/signed/pdfs/:pdfId', {
    config: { public: true },
    schema: {
      operationId: 'signedPdf', summary: 'Follow a signed download/preview link to a managed PDF (no API key)', tags: ['Signed links'], security: [],
      params: PdfParams, querystring: SignedQuery, produces: ['application/pdf'], response: signedResponses,
    },
  }, async (req, reply) => {
    const q = req.query;
    return sendPdf(reply, await jobs.openSignedLink(d, { kind: 'pdf', accountId: q.account, id: req.params.pdfId }, q), q.disposition);
  });
};
