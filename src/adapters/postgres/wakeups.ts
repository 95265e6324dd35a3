import pg from 'pg';
import { randomBytes } from 'node:crypto';
import type { Logger } from '@press-cloud/engine/logger';
import type { Wakeups, WakeKind } from '../sql/dialect.js';
import type { SqlExecutor } from '../sql/executor.js';

/** The channel the queue NOTIFYs on; payloads are `<kind>:<jobId>:<origin>`. */
export const JOBS_CHANNEL = 'press_jobs';
/** application_name of the listening session (visible in pg_stat_activity) */
export const LISTENER_APP_NAME = 'press-cloud-listener';

const MIN_RETRY_MS = 100;
const MAX_RETRY_MS = 5000;

/**
 * A dedicated connection that LISTENs on the jobs channel (a pooled client cannot: LISTEN belongs to a session).
 * If the connection drops it reconnects with capped backoff; subscribers then get `null`, meaning "notifications
 * may have been missed, look again", so a worker re-polls instead of waiting for the safety-net timer.
 */
export class PgNotifier {
  private client: pg.Client | null = null;
  private stopped = false;
  private retryMs = MIN_RETRY_MS;
  private timer: NodeJS.Timeout | null = null;
  private readonly subscribers = new Set<(payload: string | null) => void>();

  constructor(private readonly url: string, private readonly logger?: Logger) {}

  /** true while the LISTEN session is up */
  get listening(): boolean {
    return this.client !== null;
  }

  subscribe(fn: (payload: string | null) => void): () => void {
    this.subscribers.add(fn);
    return () => void this.subscribers.delete(fn);
  }

  /** Connects and LISTENs; rejects if the first connection fails (later drops reconnect on their own). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const c = this.client;
    this.client = null;
    if (c) await c.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: LISTENER_APP_NAME, keepAlive: true });
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost) return;
      lost = true;
      if (this.client === client) this.client = null;
      client.end().catch(() => {});
      if (this.stopped) return;
      this.logger?.warn({ err }, 'PostgreSQL LISTEN connection lost; reconnecting');
      this.schedule();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (msg) => {
      if (msg.channel === JOBS_CHANNEL) this.emit(msg.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${JOBS_CHANNEL}`);
    } catch (err) {
      lost = true;
      await client.end().catch(() => {});
      throw err;
    }
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.retryMs = MIN_RETRY_MS;
  }

  private schedule() {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(async () => {
      this.timer = null;
      try {
        await this.connect();
        if (!this.stopped) this.emit(null);
      } catch (err) {
        this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
        this.logger?.warn({ err, retryMs: this.retryMs }, 'PostgreSQL LISTEN reconnect failed');
        this.schedule();
      }
    }, this.retryMs);
    this.timer.unref();
  }

  private emit(payload: string | null) {
    for (const fn of this.subscribers) {
      try {
        fn(payload);
      } catch (err) {
        // one subscriber's bug must not starve the others of wake-ups
        this.logger?.warn({ err }, 'queue notification listener threw');
      }
    }
  }
}

/**
 * Wake-ups across nodes through LISTEN/NOTIFY on `press_jobs`: a change NOTIFYs `<kind>:<jobId>:<origin>` inside its
 * transaction (so it is sent only on commit), and every process turns those into queue events. This process's own
 * events are emitted by the queue at once, so their echo (same origin) is ignored.
 */
export class PgWakeups implements Wakeups {
  /** tags this process's notifications so it can skip its own echo */
  private readonly origin = randomBytes(6).toString('hex');

  constructor(private readonly notifier: PgNotifier) {}

  /** true while the LISTEN session is up */
  get listening(): boolean {
    return this.notifier.listening;
  }

  async publish(x: SqlExecutor, kind: WakeKind, ids: string[]) {
    await x.run(`SELECT pg_notify(?, ?::text || ':' || id || ':' || ?::text) FROM unnest(?::text[]) AS id`, [JOBS_CHANNEL, kind, this.origin, ids]);
  }

  subscribe(fn: (kind: WakeKind, id: string | null) => void) {
    return this.notifier.subscribe((payload) => {
      // null: the LISTEN connection came back, anything may have happened meanwhile
      if (payload === null) return fn('work', null);
      const first = payload.indexOf(':');
      const last = payload.lastIndexOf(':');
      if (first < 0 || last <= first || payload.slice(last + 1) === this.origin) return;
      const kind = payload.slice(0, first);
      if (kind === 'terminal' || kind === 'ended' || kind === 'work') fn(kind, payload.slice(first + 1, last));
    });
  }
}
