import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import * as webhooks from '../../domain/webhooks.js';
import type { AppContext } from '../context.js';
import { Id, IdempotencyHeaders, Millis, NullableMillis, Page, PageQuery, errors } from '../schemas/common.js';

const nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(t: T, description: string) =>
  Type.Union([t, Type.Null()], { description });

/** One attempt of a webhook event (the log lists every attempt, scheduled ones included). */
export const WebhookDelivery = Type.Object(
  {
    id: Id('whd', 'whd_ id of this attempt; sent as Press-Webhook-Delivery'),
    eventId: Type.String({ description: 'evt_render_job_terminated_<jobId>; sent as Press-Webhook-Id, the same for every attempt' }),
    renderJobId: Id('rj'),
    url: Type.String({ description: 'the URL the attempt went (or goes) to' }),
    attempt: Type.Integer({
      minimum: 1, description: `sent as Press-Webhook-Attempt; 1–${webhooks.WEBHOOK_MAX_ATTEMPTS} on the retry schedule, redeliveries count on`,
    }),
    status: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
    responseStatus: nullable(Type.Integer(), 'HTTP status the endpoint answered; null when no response (refused, timeout, connection error) or pending'),
    error: nullable(Type.String(), 'why the attempt failed'),
    createdAt: Millis('when the attempt was scheduled'),
    deliveredAt: NullableMillis('when the attempt finished (succeeded or failed); null while pending'),
    nextAttemptAt: NullableMillis('pending: when it runs; failed: when the next attempt runs (null after the last of 7); succeeded: null'),
    durationMs: nullable(Type.Integer(), 'how long the request took'),
    redeliveryOf: Type.Union([Id('whd'), Type.Null()], {
      description: 'a redelivery (asked for with POST …/redeliver): the delivery it was asked from; sent once, not retried. null: a scheduled attempt',
    }),
  },
  { title: 'WebhookDelivery', additionalProperties: false },
);

export const webhookRoutes = (ctx: AppContext): FastifyPluginAsyncTypebox => async (app) => {
  const d = ctx.deps;

  app.get('/deploys/:deployId/webhook-deliveries', {
    schema: {
      operationId: 'listWebhookDeliveries',
      summary: 'List the deploy\'s webhook delivery attempts, newest first',
      description:
        'One item per attempt of `render.job.terminated` events: failed attempts are retried after 1 min, 5 min, 30 min, 2 h, 6 h ' +
        'and 12 h (7 attempts); the next attempt shows as `pending` until it runs. Every attempt is signed: ' +
        '`Press-Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<Press-Webhook-Timestamp>.<raw body>")>`, keyed with the whole ' +
        '`whsec_…` string of the deploy\'s secret, else the account\'s. URL and secret are read at each attempt; disabling the ' +
        'webhook or deleting the deploy ends pending deliveries.',
      tags: ['Webhooks'],
      params: Type.Object({ deployId: Id('dpl') }),
      querystring: PageQuery,
      response: { 200: Page(WebhookDelivery, 'WebhookDeliveryList'), ...errors(404) },
    },
  }, async (req) => webhooks.listWebhookDeliveries(d, req.caller, req.params.deployId, req.query));

  app.post('/deploys/:deployId/webhook-deliveries/:deliveryId/redeliver', {
    config: { idempotent: true, role: 'editor' },
    schema: {
      operationId: 'redeliverWebhook',
      summary: 'Send a delivery\'s event again (editor)',
      description:
        'Queues one more attempt of the delivery\'s `render.job.terminated` event, sent within about a second to the deploy\'s ' +
        'current webhook URL and signed with the current secret. The body is the event\'s own (same `id`, `type`, `createdAt` ' +
        'and `data.job`; a succeeded job\'s download link is signed anew). `Press-Webhook-Attempt` counts on from the event\'s ' +
        'last attempt. A redelivery is sent once and not retried. If the event already has a pending attempt, that attempt ' +
        'is made due now and returned instead (`created: false`), so repeating the request never sends twice. ' +
        '409 `webhook_disabled` when the deploy\'s webhook is off. Audited as `webhook.redelivered`.',
      tags: ['Webhooks'],
      headers: IdempotencyHeaders,
      params: Type.Object({ deployId: Id('dpl'), deliveryId: Id('whd') }),
      response: {
        202: Type.Object({
          delivery: WebhookDelivery,
          created: Type.Boolean({ description: 'false: the event\'s pending attempt was made due now instead of a new one' }),
        }),
        ...errors(404, 409),
      },
    },
  }, async (req, reply) => reply.code(202).send(await webhooks.redeliverWebhook(d, req.caller, req.params.deployId, req.params.deliveryId)));
};
