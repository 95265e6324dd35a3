import { createHmac, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { RenderJobRecord } from '../model/records.js';
import type { WebhookDeliveryRecord, WebhookEventRecord } from '../model/records.js';
import { accountWebhookSecret } from './accounts.js';
import type { Caller, DomainDeps } from './context.js';
import { loadDeploy } from './deploys.js';
import { newId } from './ids.js';
import { DEFAULT_LINK_TTL_SECONDS, signLink } from './links.js';
import { isPublicHost } from './net-policy.js';
import { pageRequest, toPage } from './pagination.js';
import { jobView } from './render-jobs.js';
import { silentLogger, type Logger } from '../model/logger.js';

/*
 * Webhooks (spec §7): `render.job.terminated` once per job that ends (succeeded, failed, canceled).
 *
 * Flow: a terminal transition sets the job's `webhookPending` flag in the same transaction. The sender turns each
 * pending job into one event (`evt_render_job_terminated_<jobId>`, its primary key makes this idempotent across
 * senders and nodes) plus a first pending delivery row — when the deploy has webhooks enabled — and clears the flag.
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
 * SSRF: the host is re-checked before every attempt (unless PRESS_WEBHOOK_ALLOW_PRIVATE) and redirects are never
 * followed. fetch resolves the name again when connecting, so a DNS answer that changes between the check and the
 * connect (rebinding) is not caught here.
 */

export const WEBHOOK_EVENT_TYPE = 'render.job.terminated' as const;
export const WEBHOOK_USER_AGENT = 'Press-Cloud-Webhooks/1.0';
/** a 2xx must arrive within this */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** waits before attempts 2..7: 1 min, 5 min, 30 min, 2 h, 6 h, 12 h */
export const WEBHOOK_RETRY_DELAYS_MS = [60_000, 300_000, 1_800_000, 7_200_000, 21_600_000, 43_200_000] as const;
export const WEBHOOK_MAX_ATTEMPTS = WEBHOOK_RETRY_DELAYS_MS.length + 1;

export const webhookEventId = (jobId: string) => `evt_render_job_terminated_${jobId}`;

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
    nextAttemptAt: r.nextAttemptAt, durationMs: r.durationMs,
  };
}

export async function listWebhookDeliveries(deps: DomainDeps, caller: Caller, deployId: string, query: { cursor?: string; limit?: number }) {
  const deploy = await loadDeploy(deps, caller, deployId);
  const page = pageRequest(query);
  return toPage(await deps.db.webhooks.list(caller.accountId, deploy.id, page), page.limit, deliveryView);
}

// ---- sender ----

export interface WebhookSenderOptions {
  /** safety-net poll for due retries and pending jobs finished by other nodes (the hot path is event-driven) */
  pollMs?: number;
  /** how long a claimed attempt is this sender's; must exceed the request timeout */
  leaseMs?: number;
  timeoutMs?: number;
  /** attempts in flight at once */
  concurrency?: number;
  logger?: Logger;
  /** called after every attempt (metrics) */
  onAttempt?: (outcome: 'succeeded' | 'retry_scheduled' | 'failed') => void;
}

interface Outcome {
  ok: boolean;
  url: string;
  responseStatus: number | null;
  error: string | null;
  /** not retried (deploy deleted, webhooks disabled) */
  final?: boolean;
}


function describeFetchError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no response within ${timeoutMs / 1000} s`;
  const cause = e?.cause;
  const detail = cause?.code ?? cause?.message ?? e?.message ?? String(err);
  return `the request failed: ${detail}`.slice(0, 500);
}

/**
 * Sends webhooks in the background. Wakes when a job ends in this process (`queue.onTerminal`), on a slow poll and at
 * start; `runOnce()` runs a full pass (tests and `sweep()` call it; it waits for a pass already running, then runs
 * another so its caller sees everything due at the time of the call).
 */
export class WebhookSender {
  readonly senderId = `whs_${randomBytes(6).toString('hex')}`;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly log: Logger;
  private started = false;
  private closing = false;
  private timer: NodeJS.Timeout | null = null;
  private offTerminal: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private soon: NodeJS.Immediate | null = null;
  private again = false;

  constructor(private readonly deps: DomainDeps, private readonly opts: WebhookSenderOptions = {}) {
    this.pollMs = opts.pollMs ?? 1000;
    this.leaseMs = opts.leaseMs ?? 60_000;
    this.timeoutMs = opts.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
    this.concurrency = opts.concurrency ?? 4;
    this.log = opts.logger ?? silentLogger;
  }

  start() {
    if (this.started) return;
    this.started = true;
    this.closing = false;
    this.offTerminal = this.deps.db.renderJobs.onTerminal(() => this.kickSoon());
    const tick = () => {
      this.timer = setTimeout(() => {
        this.kick();
        if (this.started) tick();
      }, this.pollMs);
      this.timer.unref();
    };
    this.kick(); // start-up: whatever was left pending or scheduled
    tick();
  }

  /** Stops waking up and claiming; resolves when the attempts in flight are recorded. */
  async stop() {
    this.started = false;
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.soon) clearImmediate(this.soon);
    this.soon = null;
    this.offTerminal?.();
    this.offTerminal = null;
    await this.running?.catch(() => {});
    this.closing = false;
  }

  /**
   * A job just ended: start a pass on the next turn of the event loop rather than inside the terminal event, so the
   * job's own waiters (`?wait=` requests woken by the same event) reload it and answer first. One pass per turn.
   */
  private kickSoon() {
    if (this.soon || !this.started) return;
    this.soon = setImmediate(() => {
      this.soon = null;
      this.kick();
    });
  }

  private kick() {
    if (!this.started) return;
    this.runOnce().catch((err) => this.log.error({ err }, 'webhook sender pass failed'));
  }

  runOnce(): Promise<void> {
    this.again = true;
    this.running ??= (async () => {
      try {
        while (this.again) {
          this.again = false;
          await this.pass();
        }
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async pass() {
    await this.materialize();
    const inflight = new Set<Promise<void>>();
    for (;;) {
      while (!this.closing && inflight.size < this.concurrency) {
        const now = this.deps.clock.now();
        const delivery = await this.deps.db.webhooks.claimDue(now, this.senderId, now + this.leaseMs);
        if (!delivery) break;
        const p: Promise<void> = this.attempt(delivery).finally(() => inflight.delete(p));
        inflight.add(p);
      }
      if (inflight.size === 0) return;
      await Promise.race(inflight);
    }
  }

  /** Pending jobs → events (+ first delivery) for deploys with webhooks on; the flag is cleared either way. */
  private async materialize() {
    for (;;) {
      const jobs = await this.deps.db.renderJobs.pendingWebhooks(100);
      let failures = 0;
      for (const job of jobs) {
        try {
          await this.createEvent(job);
        } catch (err) {
          failures++;
          this.log.error({ err, jobId: job.id }, 'creating the webhook event failed');
        }
      }
      // a job that keeps failing stays pending for the next pass instead of spinning here
      if (jobs.length < 100 || failures > 0) return;
    }
  }

  private async createEvent(job: RenderJobRecord) {
    const { deps } = this;
    const deploy = await deps.db.deploys.get(job.accountId, job.deployId);
    if (deploy?.webhookEnabled && deploy.webhookUrl) {
      const now = deps.clock.now();
      const event: WebhookEventRecord = {
        id: webhookEventId(job.id), accountId: job.accountId, deployId: job.deployId, renderJobId: job.id, type: WEBHOOK_EVENT_TYPE,
        data: JSON.stringify(jobView(job, now)), createdAt: now,
      };
      const created = await deps.db.webhooks.createEvent(event, {
        id: newId('whd', now), eventId: event.id, accountId: job.accountId, deployId: job.deployId, renderJobId: job.id,
        url: deploy.webhookUrl, attempt: 1, status: 'pending', responseStatus: null, error: null, createdAt: now,
        deliveredAt: null, nextAttemptAt: now, durationMs: null, leaseOwner: null, leaseExpiresAt: null,
      });
      if (created) this.log.debug({ eventId: event.id, jobId: job.id }, 'webhook event created');
    }
    await deps.db.renderJobs.clearWebhookPending(job.id);
  }

  private async attempt(d: WebhookDeliveryRecord): Promise<void> {
    const t0 = performance.now();
    let outcome: Outcome;
    try {
      outcome = await this.send(d);
    } catch (err) {
      this.log.error({ err, deliveryId: d.id, eventId: d.eventId }, 'preparing the webhook delivery failed');
      outcome = { ok: false, url: d.url, responseStatus: null, error: 'internal error while preparing the delivery' };
    }
    try {
      const now = this.deps.clock.now();
      const retry = !outcome.ok && !outcome.final && d.attempt < WEBHOOK_MAX_ATTEMPTS;
      const nextAttemptAt = retry ? now + WEBHOOK_RETRY_DELAYS_MS[d.attempt - 1] : null;
      const next: WebhookDeliveryRecord | null = retry
        ? {
            id: newId('whd', now), eventId: d.eventId, accountId: d.accountId, deployId: d.deployId, renderJobId: d.renderJobId,
            url: outcome.url, attempt: d.attempt + 1, status: 'pending', responseStatus: null, error: null, createdAt: now,
            deliveredAt: null, nextAttemptAt, durationMs: null, leaseOwner: null, leaseExpiresAt: null,
          }
        : null;
      const recorded = await this.deps.db.webhooks.complete(d.id, this.senderId, {
        status: outcome.ok ? 'succeeded' : 'failed', url: outcome.url, responseStatus: outcome.responseStatus, error: outcome.error,
        deliveredAt: now, durationMs: Math.round(performance.now() - t0), nextAttemptAt,
      }, next);
      const info = { deliveryId: d.id, eventId: d.eventId, attempt: d.attempt, responseStatus: outcome.responseStatus, error: outcome.error ?? undefined, nextAttemptAt };
      if (recorded) this.opts.onAttempt?.(outcome.ok ? 'succeeded' : retry ? 'retry_scheduled' : 'failed');
      if (!recorded) this.log.warn(info, 'webhook attempt finished after its lease lapsed; another sender owns it');
      else if (outcome.ok) this.log.info(info, 'webhook delivered');
      else this.log.warn(info, retry ? 'webhook attempt failed; retry scheduled' : 'webhook delivery failed');
    } catch (err) {
      this.log.error({ err, deliveryId: d.id }, 'recording the webhook attempt failed');
    }
  }

  /** One HTTP attempt. Never logs or returns the secret or the signed download URL. */
  private async send(d: WebhookDeliveryRecord): Promise<Outcome> {
    const { deps } = this;
    const fail = (error: string, extra: Partial<Outcome> = {}): Outcome => ({ ok: false, url: d.url, responseStatus: null, error, ...extra });
    const event = await deps.db.webhooks.getEvent(d.eventId);
    if (!event) return fail('the webhook event no longer exists', { final: true });
    const deploy = await deps.db.deploys.get(d.accountId, d.deployId);
    if (!deploy) return fail('the deploy was deleted; not retried', { final: true });
    if (!deploy.webhookEnabled || !deploy.webhookUrl) return fail('webhooks were disabled for this deploy; not retried', { final: true });
    const url = deploy.webhookUrl;
    let host: string;
    try {
      const u = new URL(url);
      if (u.protocol !== 'https:' && u.protocol !== 'http:') return fail('the webhook URL is not http(s)', { url });
      host = u.hostname;
    } catch {
      return fail('the webhook URL is not a valid URL', { url });
    }
    // re-checked at every attempt: DNS may have changed since the URL was saved
    if (!deps.settings.webhookAllowPrivate && !(await isPublicHost(host, deps.resolveHost))) {
      return fail(`refused: host "${host}" does not resolve to a public address (loopback, private and link-local addresses are not delivered to)`, { url });
    }
    const secret = deploy.webhookSigningSecret
      ? deps.secretBox.decrypt(deploy.webhookSigningSecret)
      : await accountWebhookSecret(deps, d.accountId);
    const now = deps.clock.now();
    const rawBody = JSON.stringify(await buildWebhookBody(deps, event, now));
    const timestamp = Math.floor(now / 1000);
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': WEBHOOK_USER_AGENT,
          'press-webhook-event': event.type,
          'press-webhook-id': event.id,
          'press-webhook-delivery': d.id,
          'press-webhook-attempt': String(d.attempt),
          'press-webhook-timestamp': String(timestamp),
          'press-webhook-signature': signWebhook(secret, timestamp, rawBody),
        },
        body: rawBody,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      return fail(describeFetchError(err, this.timeoutMs), { url });
    }
    await res.body?.cancel().catch(() => {});
    if (res.status >= 200 && res.status < 300) return { ok: true, url, responseStatus: res.status, error: null };
    if (res.status >= 300 && res.status < 400) {
      return fail(`the endpoint answered ${res.status} (a redirect); redirects are not followed, answer 2xx at this URL`, { url, responseStatus: res.status });
    }
    return fail(`the endpoint answered ${res.status}; any 2xx counts as delivered`, { url, responseStatus: res.status });
  }
}
