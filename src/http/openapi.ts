import type { SwaggerTransformObject } from '@fastify/swagger';
import { Type } from 'typebox';
import { RenderJob } from './schemas/render-jobs.js';

type Parameter = { in?: string; name?: string; required?: boolean };
type Operation = {
  requestBody?: { required?: boolean; content?: Record<string, { schema?: { required?: string[] } }> };
  parameters?: Parameter[];
};

/**
 * A schema with its shared-schema references (`{$ref: 'Name#'}`, resolved by Fastify for the routes) pointed at
 * the document's components: the `webhooks` section is added after @fastify/swagger rewrote the routes' refs.
 */
const componentRefs = <T>(schema: T): T =>
  JSON.parse(JSON.stringify(schema), (key, value) =>
    key === '$ref' && typeof value === 'string' && /^\w+#$/.test(value) ? `#/components/schemas/${value.slice(0, -1)}` : value,
  );

const header = (name: string, description: string, schema: object = { type: 'string' }) => ({ name, in: 'header', required: true, description, schema });

/** The `render.job.terminated` event as receivers get it (spec §7). */
const renderJobTerminated = {
  post: {
    operationId: 'renderJobTerminated',
    summary: 'A render job ended (succeeded, failed or canceled)',
    description:
      'POSTed to the deploy\'s webhook URL. Any 2xx within 10 s is success; otherwise retried after 1 min, 5 min, 30 min, 2 h, 6 h and 12 h ' +
      '(7 attempts). Verify `Press-Webhook-Signature` before trusting the body.',
    parameters: [
      header('Press-Webhook-Event', '`render.job.terminated`'),
      header('Press-Webhook-Id', '`evt_render_job_terminated_<jobId>`: the same for every attempt (deduplicate on it)'),
      header('Press-Webhook-Delivery', '`whd_…`: this attempt'),
      header('Press-Webhook-Attempt', 'attempt number, from 1', { type: 'integer', minimum: 1 }),
      header('Press-Webhook-Timestamp', 'Unix seconds when the attempt was signed', { type: 'integer' }),
      header('Press-Webhook-Signature', '`v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`, keyed with the whole `whsec_…` secret (the deploy\'s, else the account\'s)'),
      header('User-Agent', '`Press-Cloud-Webhooks/1.0`'),
    ],
    requestBody: {
      required: true,
      content: {
        'application/json': {
          schema: componentRefs(Type.Object({
            id: Type.String({ description: 'the event id, as Press-Webhook-Id' }),
            type: Type.Literal('render.job.terminated'),
            createdAt: Type.Integer({ description: 'Unix epoch milliseconds' }),
            data: Type.Object({
              job: RenderJob,
              output: Type.Optional(Type.Object({
                fileName: Type.String(), bytes: Type.Integer(), pageCount: Type.Integer(),
                download: Type.Object({ url: Type.String({ description: 'signed link, valid 10 min from this attempt' }), expiresAt: Type.Integer() }),
              }, { description: 'succeeded jobs only' })),
            }),
          })),
        },
      },
    },
    responses: { '2XX': { description: 'received; any 2xx within 10 s ends the deliveries' } },
  },
};

/**
 * Finishes the generated document:
 * - @fastify/swagger marks every request body `required: true`, but a POST/PUT/PATCH without a body is read as `{}`
 *   here (app.ts), so a JSON body with no required field (PATCH /v1/account, commit, cancel…) may be omitted;
 * - `X-Upload-Token` is required on the upload routes (spec §4). The schema leaves it optional so that its absence
 *   answers the documented 403 `upload_token_missing` rather than a header validation error;
 * - the `webhooks` section describes the event receivers get.
 */
export const finishOpenApi: SwaggerTransformObject = (input) => {
  const doc = ('openapiObject' in input ? input.openapiObject : input.swaggerObject) as {
    paths?: Record<string, Record<string, Operation>>; webhooks?: unknown;
  };
  for (const ops of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(ops)) {
      const content = op?.requestBody?.content;
      const json = content?.['application/json'];
      if (json && Object.keys(content!).length === 1 && !(json.schema?.required?.length)) op.requestBody!.required = false;
      for (const p of op?.parameters ?? []) if (p.in === 'header' && p.name === 'x-upload-token') p.required = true;
    }
  }
  doc.webhooks = { 'render.job.terminated': renderJobTerminated };
  return doc as ReturnType<SwaggerTransformObject>;
};
