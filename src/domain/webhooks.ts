import { createHmac } from 'node:crypto';
import type { RenderJobRecord, WebhookDeliveryRecord, WebhookEventRecord } from '../model/records.js';
import { loadDeploy } from './deploys.js';
import { auditEntry } from './audit.js';
import { requireRole, type Caller, type DomainDeps } from './context.js';
import { Errors } from './errors.js';
import { newId } from './ids.js';
import { DEFAULT_LINK_TTL_SECONDS, signLink } from './links.js';
import { pageRequest, toPage } from './pagination.js';
import { jobView } from './render-jobs.js';

/*
 * Webhooks (spec §7): `render.job.terminated` once per job that ends (succeeded, failed, canceled).
 *
 * Flow: a terminal transition sets the job's `webhookPending` flag in the same transaction when the job's deploy has
 * its webhook on as the transition reads it (a settings change committed before the job ends is always seen; a job
 * of a deploy without a webhook leaves nothing behind and does not wake the sender). The sender turns each pending
 * job into one event (`evt_render_job_terminated_<jobId>`, its primary key makes this idempotent across senders and
 * nodes) plus a first pending delivery row — when the deploy still has webhooks enabled — and clears the flag.
 * Deliveries are rows, one per attempt: a pending row is claimed with a short lease (conditional update), sent, and
 * completed (only by the lease holder) together with the scheduling of the next attempt. So the schedule survives
 * restarts, several senders never send the same attempt twice while a lease holds, and the rows are the delivery
 * log the API lists. A sender that dies mid-attempt loses its lease; the attempt is then sent again (with the same
 * Press-Webhook-Delivery id): delivery is at-least-once, receivers dedupe on Press-Webhook-Id.
 *
 * URL and secret are read from the deploy's settings at each attempt, so a fixed URL or a rotated secret applies to
 * retries. A deploy deleted or with webhooks disabled meanwhile ends the delivery (failed, not retried); jobs of a
 * deploy that is already deleted (e.g. canceled by the deletion) or whose webhook is off when they end get no event.
 *
 * SSRF: every attempt goes through the Outbound port (the same address policy as rendered pages' requests): the host
 * is resolved and checked (unless PRESS_WEBHOOK_ALLOW_PRIVATE) and the request connects to the checked address, so a
 * DNS answer that changes between the check and the connect (rebinding) can't redirect it. Redirects are not followed.
 */

export const WEBHOOK_EVENT_TYPE = 'render.job.terminated' as const;
export const WEBHOOK_USER_AGENT = 'Press-Cloud-Webhooks/1.0';
/** a 2xx must arrive within this */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** waits before attempts 2..7: 1 min, 5 min, 30 min, 2 h, 6 h, 12 h */
export const WEBHOOK_RETRY_DELAYS_MS = [60_000, 300_000, 1_800_000, 7_200_000, 21_600_000, 43_200_000] as const;
export const WEBHOOK_MAX_ATTEMPTS = WEBHOOK_RETRY_DELAYS_MS.length + 1;

export const webhookEventId = (jobId: string) => `evt_render_job_terminated_${jobId}`;

/** the event of a job that ended: a snapshot of its view, taken once */
export function webhookEvent(job: RenderJobRecord, now: number): WebhookEventRecord {
  return {
    id: webhookEventId(job.id), accountId: job.accountId, deployId: job.deployId, renderJobId: job.id, type: WEBHOOK_EVENT_TYPE,
    data: JSON.stringify(jobView(job, now)), createdAt: now,
  };
}

/** `v1=<hex HMAC-SHA256(secret, "<timestamp>.<rawBody>")>`; the key is the whole secret string (`whsec_…`) as UTF-8. */
export function signWebhook(secret: string, timestamp: number, rawBody: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex')}`;
}

type JobView = ReturnType<typeof jobView>;

export interface WebhookOutput {
  fileName: string;
  bytes: number;
  pageCount: number;
  download: { url: string; expiresAt: number };
}

export interface WebhookBody {
  id: string;
  type: typeof WEBHOOK_EVENT_TYPE;
  createdAt: number;
  data: { job: JobView; output?: WebhookOutput };
}

/**
 * The output of a succeeded job with a download link signed now, valid 10 min (never beyond a transient output's
 * expiry). Null when the PDF is gone meanwhile (deleted or expired before this attempt): the body then has no output.
 */
async function outputFor(deps: DomainDeps, event: WebhookEventRecord, job: JobView, now: number): Promise<WebhookOutput | null> {
  const ttlEnd = now + DEFAULT_LINK_TTL_SECONDS * 1000;
  const sign = (target: Parameters<typeof signLink>[0]['target'], expiresAt: number) =>
    signLink({ key: deps.linkSigningKey, baseUrl: deps.settings.publicUrl, target, disposition: 'attachment', expiresAt });
  if (job.output?.pdfId) {
    // managed: link the PDF itself, which outlives the job
    const pdf = await deps.db.pdfs.get(event.accountId, job.output.pdfId);
    if (!pdf) return null;
    return { fileName: pdf.fileName, bytes: pdf.bytes, pageCount: pdf.pageCount, download: sign({ kind: 'pdf', accountId: event.accountId, id: pdf.id }, ttlEnd) };
  }
  const current = await deps.db.renderJobs.getById(event.renderJobId);
  if (!current || current.status !== 'succeeded' || !current.outputKey || current.outputDeletedAt !== null) return null;
  if (current.outputExpiresAt !== null && current.outputExpiresAt <= now) return null;
  const expiresAt = current.outputExpiresAt !== null ? Math.min(ttlEnd, current.outputExpiresAt) : ttlEnd;
  return {
    fileName: current.fileName, bytes: current.outputBytes ?? 0, pageCount: current.outputPageCount ?? 0,
    download: sign({ kind: 'render-job-output', accountId: current.accountId, id: current.id }, expiresAt),
  };
}

/**
 * The body of one attempt: the event id, type and createdAt never change; `data.job` is the job as it ended; the
 * download link in `data.output` is signed per attempt. Failed jobs carry `data.job.error`; canceled ones no output.
 */
export async function buildWebhookBody(deps: DomainDeps, event: WebhookEventRecord, now: number): Promise<WebhookBody> {
  const job = JSON.parse(event.data) as JobView;
  const body: WebhookBody = { id: event.id, type: WEBHOOK_EVENT_TYPE, createdAt: event.createdAt, data: { job } };
  if (job.status === 'succeeded') {
    const output = await outputFor(deps, event, job, now);
    if (output) body.data.output = output;
  }
  return body;
}

// ---- delivery log ----

/**
 * One item per attempt (the simplest honest log: every request that was made, or is scheduled, is listed with its
 * own outcome). `deliveredAt` is when the attempt finished (succeeded or failed), null while pending; a failed
 * attempt's `nextAttemptAt` says when the next one runs (null after the last).
 */
export function deliveryView(r: WebhookDeliveryRecord) {
  return {
    id: r.id, eventId: r.eventId, renderJobId: r.renderJobId, url: r.url, attempt: r.attempt, status: r.status,
    responseStatus: r.responseStatus, error: r.error, createdAt: r.createdAt, deliveredAt: r.deliveredAt,
    nextAttemptAt: r.nextAttemptAt, durationMs: r.durationMs, redeliveryOf: r.redeliveryOf,
  };
}

export async function listWebhookDeliveries(deps: DomainDeps, caller: Caller, deployId: string, query: { cursor?: string; limit?: number }) {
  const deploy = await loadDeploy(deps, caller, deployId);
  const page = pageRequest(query);
  return toPage(await deps.db.webhooks.list(caller.accountId, deploy.id, page), page.limit, deliveryView);
}

/**
 * `POST /v1/deploys/{deployId}/webhook-deliveries/{deliveryId}/redeliver` (an [ours] extension; editor, like the
 * deploy's webhook settings): one more attempt of the delivery's event, sent by the sender within its poll (1 s) to
 * the deploy's current URL, signed with the current secret; the body is the event's (same id, type, createdAt and
 * data.job; the download link is signed anew, as for every attempt). A redelivery is not retried when it fails.
 * When the event already has a pending attempt (a scheduled retry, or an earlier redelivery not sent yet), that one
 * is made due now and returned instead, so a repeated click never sends twice. Audited as `webhook.redelivered`.
 */
export async function redeliverWebhook(deps: DomainDeps, caller: Caller, deployId: string, deliveryId: string) {
  requireRole(caller, 'editor', 'Redelivering webhooks');
  const deploy = await loadDeploy(deps, caller, deployId);
  const from = await deps.db.webhooks.get(caller.accountId, deliveryId);
  if (!from || from.deployId !== deploy.id) throw Errors.webhookDeliveryNotFound(`No webhook delivery ${deliveryId} for deploy ${deploy.id}.`);
  if (!deploy.webhookEnabled || !deploy.webhookUrl) {
    throw Errors.webhookDisabled('The deploy\'s webhook is disabled; enable it in the deploy settings before redelivering.');
  }
  const now = deps.clock.now();
  const attempt: WebhookDeliveryRecord = {
    id: newId('whd', now), eventId: from.eventId, accountId: from.accountId, deployId: from.deployId, renderJobId: from.renderJobId,
    url: deploy.webhookUrl, attempt: 0, status: 'pending', responseStatus: null, error: null, createdAt: now, deliveredAt: null,
    nextAttemptAt: now, durationMs: null, leaseOwner: null, leaseExpiresAt: null, redeliveryOf: from.id,
  };
  const { delivery, created } = await deps.db.transaction(async (tx) => {
    const r = await tx.webhooks.redeliver(attempt, now);
    await tx.audit.record(auditEntry(deps, caller.accountId, caller, {
      action: 'webhook.redelivered', targetType: 'deploy', targetId: deploy.id,
      details: { deliveryId: from.id, attemptId: r.delivery.id, eventId: from.eventId, renderJobId: from.renderJobId, queued: r.created },
    }));
    return r;
  });
  return { delivery: deliveryView(delivery), created };
}
