import type { SqlExecutor, Row } from './executor.js';

/** What a render-job claim needs to know (see RenderJobRepository.claim). */
export interface ClaimRequest {
  workerId: string;
  now: number;
  leaseMs: number;
  accountLimit: (accountId: string) => Promise<number | null>;
}

/**
 * `work`: a job may be claimable. `terminal`: a job ended and may have left a webhook pending (the webhook sender
 * looks). `ended`: a job ended and left nothing for the sender (its deploy has no webhook).
 */
export type WakeKind = 'work' | 'terminal' | 'ended';

/**
 * Wake-ups between processes. The shared queue emits its own process's events itself, after commit; a dialect whose
 * processes share no memory passes them on (PostgreSQL: NOTIFY inside the transaction, LISTEN elsewhere).
 */
export interface Wakeups {
  /** inside the transaction that made the change: tell the other processes, if (and when) it commits */
  publish(x: SqlExecutor, kind: WakeKind, ids: string[]): Promise<void>;
  /** another process's event (`id` null: events may have been missed, look again); returns an unsubscribe function */
  subscribe(fn: (kind: WakeKind, id: string | null) => void): () => void;
}

/** Only what truly differs between SQLite and PostgreSQL; everything else is the shared SQL of this folder. */
export interface Dialect {
  name: 'sqlite' | 'postgres';
  /**
   * Appended to a SELECT inside a transaction to lock the rows it returns. PostgreSQL locks rows (`FOR UPDATE`, and
   * `SKIP LOCKED` where another worker's rows may be passed over); SQLite's write transaction already holds the whole
   * file, so both are empty there.
   */
  forUpdate: string;
  skipLocked: string;
  /**
   * Orders a job's terminal transition against a change of its deploy's webhook settings. The transition decides,
   * from the deploy as it reads it, whether the job leaves a webhook event to send; a webhook turned on while the job
   * ends must not be missed. `webhookGate.shared` is a select-list term (with its leading comma) that, evaluated on a
   * render_jobs row, holds its deploy's gate until the transaction ends; a later statement of that transaction sees
   * every settings change committed before. A settings change first runs `webhookGate.exclusive` (parameter: the
   * deploy id), which waits for the transitions holding the gate and holds off new ones until it commits.
   * PostgreSQL: a transaction-scoped advisory lock per deploy. SQLite: nothing ('' and null): its one writer at a
   * time already orders them.
   */
  webhookGate: { shared: string; exclusive: string | null };
  /**
   * Makes a count quota exact under concurrent creates (usage.ts `admitUnit`) without queueing every create of a
   * busy account on one lock. PostgreSQL: a transaction-scoped advisory lock per (account, meter) — parameters:
   * account id, meter — taken `shared` while the period's total is more than `margin` below the limit and `exclusive`
   * within the margin; `margin` is the server's max_connections, the most transactions that can be open at once.
   * SQLite: null — one writer at a time, so the transaction's own read of the total is exact.
   */
  quotaGate: { shared: string; exclusive: string; margin: number } | null;
  /** the claim statement(s): the oldest queued job whose account is under its limit → rendering; the new row */
  claim(x: SqlExecutor, req: ClaimRequest): Promise<Row | undefined>;
  wakeups: Wakeups;
}
