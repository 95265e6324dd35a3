import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { RenderJobRecord, WebhookDeliveryRecord } from '../model/records.js';
import { silentLogger, type Logger } from '@press-cloud/engine/logger';
import { accountWebhookSecret } from '../domain/accounts.js';
import type { DomainDeps } from '../domain/context.js';
import { newId } from '../domain/ids.js';
import { OutboundRefusedError } from '@press-cloud/engine';
import type { OutboundResponse } from '@press-cloud/engine';
import {
  buildWebhookBody, signWebhook, WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_DELAYS_MS, WEBHOOK_TIMEOUT_MS, WEBHOOK_USER_AGENT, webhookEvent,
} from '../domain/webhooks.js';

/*
 * The webhook sender: a background process, not a domain rule. It turns pending terminal jobs into events and
 * deliveries (domain/webhooks says what an event and its body are) and sends the deliveries over HTTP.
 */

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


/** a receiver's answer is read (and dropped) up to this size; beyond it the attempt fails */
const MAX_RESPONSE_BYTES = 1024 * 1024;

function describeFetchError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no response within ${timeoutMs / 1000} s`;
  const cause = e?.cause;
  const detail = e?.code ?? cause?.code ?? cause?.message ?? e?.message ?? String(err);
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
    // a job that left no webhook pending (its deploy has none) costs the sender nothing: no pass, no read
    this.offTerminal = this.deps.db.renderJobs.onTerminal((_id, webhookPending) => webhookPending && this.kickSoon());
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
      const event = webhookEvent(job, now);
      const created = await deps.db.webhooks.createEvent(event, {
        id: newId('whd', now), eventId: event.id, accountId: job.accountId, deployId: job.deployId, renderJobId: job.id,
        url: deploy.webhookUrl, attempt: 1, status: 'pending', responseStatus: null, error: null, createdAt: now,
        deliveredAt: null, nextAttemptAt: now, durationMs: null, leaseOwner: null, leaseExpiresAt: null, redeliveryOf: null,
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
      // a redelivery is one attempt a person asked for: its failure is shown, not retried
      const retry = !outcome.ok && !outcome.final && d.redeliveryOf === null && d.attempt < WEBHOOK_MAX_ATTEMPTS;
      const nextAttemptAt = retry ? now + WEBHOOK_RETRY_DELAYS_MS[d.attempt - 1] : null;
      const next: WebhookDeliveryRecord | null = retry
        ? {
            id: newId('whd', now), eventId: d.eventId, accountId: d.accountId, deployId: d.deployId, renderJobId: d.renderJobId,
            url: outcome.url, attempt: d.attempt + 1, status: 'pending', responseStatus: null, error: null, createdAt: now,
            deliveredAt: null, nextAttemptAt, durationMs: null, leaseOwner: null, leaseExpiresAt: null, redeliveryOf: null,
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
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return fail('the webhook URL is not a valid URL', { url });
    }
    if (target.protocol !== 'https:' && target.protocol !== 'http:') return fail('the webhook URL is not http(s)', { url });
    const secret = deploy.webhookSigningSecret
      ? deps.secretBox.decrypt(deploy.webhookSigningSecret)
      : await accountWebhookSecret(deps, d.accountId);
    const now = deps.clock.now();
    const rawBody = JSON.stringify(await buildWebhookBody(deps, event, now));
    const timestamp = Math.floor(now / 1000);
    let res: OutboundResponse;
    try {
      // Checked at every attempt (DNS may have changed since the URL was saved) and sent to the checked address.
      res = await deps.outbound.request({
        url: target,
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
        body: Buffer.from(rawBody),
        maxBytes: MAX_RESPONSE_BYTES,
        signal: AbortSignal.timeout(this.timeoutMs),
        allowPrivate: deps.settings.webhookAllowPrivate,
      });
    } catch (err) {
      if (err instanceof OutboundRefusedError) {
        return fail(`refused: host "${target.hostname}" does not resolve to a public address (${err.reason}; loopback, private and link-local addresses are not delivered to)`, { url });
      }
      return fail(describeFetchError(err, this.timeoutMs), { url });
    }
    if (res.status >= 200 && res.status < 300) return { ok: true, url, responseStatus: res.status, error: null };
    if (res.status >= 300 && res.status < 400) {
      return fail(`the endpoint answered ${res.status} (a redirect); redirects are not followed, answer 2xx at this URL`, { url, responseStatus: res.status });
    }
    return fail(`the endpoint answered ${res.status}; any 2xx counts as delivered`, { url, responseStatus: res.status });
  }
}
