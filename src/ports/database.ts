import type { PageRequest } from '../model/pagination.js';
import type { PeopleRepositories } from './people.js';
import type {
  AccountRecord, AliasRecord, ApiKeyRecord, DeployRecord, DeployVar, DeployVersionRecord, FileEntry, IdempotencyRecord,
  AttemptError, IdempotencyScope, JobFilter, JobPayload, PdfRecord, RenderJobRecord, RenderJobStatus, StoredPdf, SucceededOutput, UploadSessionRecord,
  UsageMeterCode, WebhookAttemptResult, WebhookDeliveryRecord, WebhookEventRecord,
} from '../model/records.js';

/*
 * The persistence port: one repository per aggregate, all on one Database with one close(). Every method is one
 * atomic persistence step; the domain composes them and relies on conditional updates (compare-and-set) rather than
 * long transactions. Unique-constraint failures surface as `ConflictError` (model/errors). List methods take a
 * PageRequest and return up to `limit + 1` rows ordered (createdAt desc, id desc) — render jobs by requestedAt.
 */

export interface AccountRepository {
  create(a: AccountRecord): Promise<void>;
  get(id: string): Promise<AccountRecord | null>;
  getByName(name: string): Promise<AccountRecord | null>;
  count(): Promise<number>;
  /** every account, newest first (the operator's list) */
  list(page: PageRequest): Promise<AccountRecord[]>;
  update(id: string, patch: Partial<Pick<AccountRecord, 'name' | 'planKey' | 'webhookSigningSecret' | 'disabledAt'>>): Promise<void>;
  /** the user's personal workspace */
  getPersonal(userId: string): Promise<AccountRecord | null>;
  /**
   * Deletes the account and every row it holds (keys, members, invitations, audit log, deploys, versions, files,
   * upload sessions, render jobs, managed PDFs, webhook events, usage, idempotent answers); use inside a transaction.
   * Returns the blob-store keys of its outputs and managed PDFs and the content blobs it held (which other accounts
   * may hold too), for the caller to delete from the store; null when there was no such account.
   */
  delete(id: string): Promise<{ outputKeys: string[]; blobSha256s: string[] } | null>;
}

export interface ApiKeyRepository {
  create(k: ApiKeyRecord): Promise<void>;
  getByHash(keyHash: string): Promise<ApiKeyRecord | null>;
  get(accountId: string, id: string): Promise<ApiKeyRecord | null>;
  list(accountId: string, page: PageRequest): Promise<ApiKeyRecord[]>;
  disable(accountId: string, id: string, at: number): Promise<void>;
  /** a disabled key works again */
  enable(accountId: string, id: string): Promise<void>;
  /** removes the key (and the answers stored for its Idempotency-Keys); false when there was none */
  delete(accountId: string, id: string): Promise<boolean>;
  touch(id: string, at: number): Promise<void>;
}

export interface DeployRepository {
  create(d: DeployRecord): Promise<void>;
  /** live (not deleted) deploy of the account */
  get(accountId: string, id: string): Promise<DeployRecord | null>;
  list(accountId: string, page: PageRequest): Promise<DeployRecord[]>;
  update(accountId: string, id: string, patch: Partial<Pick<DeployRecord, 'slug' | 'name' | 'webhookEnabled' | 'webhookUrl' | 'webhookSigningSecret'>>): Promise<void>;
  markDeleted(accountId: string, id: string, at: number): Promise<void>;
  listVars(deployId: string): Promise<DeployVar[]>;
  /** sets (value string) or deletes (value null) vars in one step */
  writeVars(deployId: string, changes: { kind: DeployVar['kind']; name: string; value: string | null }[]): Promise<void>;
}

export interface DeployVersionRepository {
  get(deployId: string, id: string): Promise<DeployVersionRecord | null>;
  latest(deployId: string): Promise<DeployVersionRecord | null>;
  list(deployId: string, page: PageRequest): Promise<DeployVersionRecord[]>;
  /** files ordered by path; `afterPath` pages through them */
  listFiles(versionId: string, opts: { limit: number; afterPath?: string }): Promise<FileEntry[]>;
  getFile(versionId: string, path: string): Promise<FileEntry | null>;
}

export interface AliasRepository {
  get(deployId: string, name: string): Promise<AliasRecord | null>;
  list(deployId: string): Promise<AliasRecord[]>;
  put(a: AliasRecord): Promise<void>;
  delete(deployId: string, name: string): Promise<boolean>;
}

export interface UploadSessionRepository {
  create(s: UploadSessionRecord, files: FileEntry[]): Promise<void>;
  get(accountId: string, id: string): Promise<UploadSessionRecord | null>;
  files(sessionId: string): Promise<FileEntry[]>;
  /** the session's distinct hashes the account does not hold yet */
  missingBlobs(accountId: string, sessionId: string): Promise<{ sha256: string; size: number }[]>;
  /** count of the session's distinct blobs the account already holds, and their bytes */
  presentBlobStats(accountId: string, sessionId: string): Promise<{ count: number; bytes: number }>;
  /** CAS: takes the 5-minute commit lock if the session is open and unlocked (or the lock lapsed). */
  tryLockCommit(sessionId: string, now: number, until: number): Promise<boolean>;
  releaseCommitLock(sessionId: string): Promise<void>;
  /**
   * Atomically: creates the version and its files from the session manifest, marks the session committed,
   * points the given aliases at the version, and records a `deploy_commits` usage record. With `storageLimitBytes`,
   * first throws StorageLimitError when the distinct blobs of the account's live versions and this session would
   * exceed it (commits of one account are serialised for that check). With `quota`, first throws QuotaExceededError
   * when the period's `deploy_commits` total has reached its limit.
   */
  commit(args: {
    session: UploadSessionRecord; version: DeployVersionRecord; aliases: string[]; now: number; storageLimitBytes?: number | null; quota?: CountQuota;
  }): Promise<void>;
  /** open sessions past their expiry become `expired`; returns how many */
  expire(now: number): Promise<number>;
}

export interface AccountBlobRepository {
  /** records that the account holds this blob (idempotent) */
  recordAccountBlob(accountId: string, sha256: string, size: number, at: number): Promise<void>;
  hasAccountBlob(accountId: string, sha256: string): Promise<boolean>;
  /** bytes of distinct blobs the account holds */
  accountBlobBytes(accountId: string): Promise<number>;
  /** drops account holdings that no live version or open session of that account references; returns dropped */
  dropUnreferencedAccountBlobs(): Promise<number>;
  /** true if any account still holds this blob */
  isHeld(sha256: string): Promise<boolean>;
}

/**
 * A count meter's quota, enforced by the write that records the unit, in its own transaction: the write throws
 * QuotaExceededError when the total of the bill period starting at `periodStart` has reached `limit`, exactly, however
 * many creates of the account run at once. `seen`: the total the caller read just before (its own check), from which
 * the store judges how close to the limit the account is (and which it may raise to a total it read since).
 */
export interface CountQuota {
  limit: number;
  periodStart: number;
  seen: number;
}

export interface UsageRepository {
  /** one ledger row, and the running total of the bill period `at` falls in, in one transaction */
  record(accountId: string, meter: UsageMeterCode, quantity: number, at: number): Promise<void>;
  /**
   * The meter's total in the bill period that starts at `periodStart` (`billPeriod(t).start`): one row read, however
   * full the period (quota checks run it on every create). Every recording path keeps it in step with the ledger.
   */
  periodTotal(accountId: string, meter: UsageMeterCode, periodStart: number): Promise<number>;
  /** per UTC day (epoch day number) and meter, the sum of the account's records in [from, to) */
  daily(accountId: string, from: number, to: number): Promise<{ day: number; meter: UsageMeterCode; total: number }[]>;
}

export interface IdempotencyRepository {
  /** INSERT if absent. Returns null when this call reserved the key, else the existing record. */
  reserve(scope: IdempotencyScope, requestHash: string, now: number): Promise<IdempotencyRecord | null>;
  complete(scope: IdempotencyScope, statusCode: number, responseBody: string, now: number): Promise<void>;
  /**
   * Deletes the key. With `createdAt`, only the reservation made at that time (taking over an expired or abandoned
   * one), so two concurrent takeovers cannot both delete and re-reserve.
   */
  release(scope: IdempotencyScope, createdAt?: number): Promise<void>;
  /** removes keys created before `before` */
  purge(before: number): Promise<number>;
}

export interface WebhookRepository {
  /**
   * Atomically inserts the event and its first (pending) delivery unless the event already exists, so several
   * senders never create two. Returns true when this call created it.
   */
  createEvent(event: WebhookEventRecord, first: WebhookDeliveryRecord): Promise<boolean>;
  getEvent(id: string): Promise<WebhookEventRecord | null>;
  /** CAS: leases the earliest pending delivery due at `now` whose lease is free or lapsed, or null */
  claimDue(now: number, owner: string, leaseUntil: number): Promise<WebhookDeliveryRecord | null>;
  /**
   * Records a claimed attempt's outcome (only while `owner` holds the lease) and, in the same step, schedules the
   * next attempt when given. False when the lease was lost (another sender took the attempt).
   */
  complete(id: string, owner: string, result: WebhookAttemptResult, next: WebhookDeliveryRecord | null): Promise<boolean>;
  /** one attempt of the account's */
  get(accountId: string, id: string): Promise<WebhookDeliveryRecord | null>;
  /**
   * A redelivery of `attempt.eventId`, atomically per event: when the event has a pending attempt, that one is made
   * due now (not leased meanwhile) and returned (`created` false), so repeated requests never queue a second;
   * otherwise `attempt` is stored as the event's next attempt number (its own `attempt` field is ignored).
   */
  redeliver(attempt: WebhookDeliveryRecord, now: number): Promise<{ delivery: WebhookDeliveryRecord; created: boolean }>;
  /** a deploy's deliveries, newest first */
  list(accountId: string, deployId: string, page: PageRequest): Promise<WebhookDeliveryRecord[]>;
}

/**
 * The durable render queue and the render jobs it holds. Every state change is a conditional update (the job is in
 * the expected state and, for a worker, still leased by it), so several workers and API nodes can share it.
 * Terminal transitions also delete the payload, record `render_time_ms` usage and set `webhookPending` when the job's
 * deploy has its webhook on (as the transition reads it: a settings change committed before it ends is seen).
 */
export interface RenderJobRepository {
  /**
   * stores a new queued job and its payload, records one `render_jobs` usage unit, and wakes idle workers; with
   * `quota`, first throws QuotaExceededError when the period's `render_jobs` total has reached its limit
   */
  enqueue(job: RenderJobRecord, payload: JobPayload, quota?: CountQuota): Promise<void>;
  get(accountId: string, id: string): Promise<RenderJobRecord | null>;
  /** any account's job (workers, webhook sender) */
  getById(id: string): Promise<RenderJobRecord | null>;
  list(accountId: string, filter: JobFilter, page: PageRequest): Promise<RenderJobRecord[]>;
  payload(id: string): Promise<JobPayload | null>;
  /**
   * Claims the oldest queued job whose account runs fewer than its limit (`accountLimit`, null = unlimited):
   * status → rendering, attempt + 1, lease until `now + leaseMs`. Null when nothing is claimable.
   */
  claim(opts: { workerId: string; now: number; leaseMs: number; accountLimit: (accountId: string) => Promise<number | null> }): Promise<RenderJobRecord | null>;
  /** extends the lease; false when the job is no longer this worker's (canceled, reclaimed) */
  heartbeat(id: string, workerId: string, leaseExpiresAt: number): Promise<boolean>;
  /** rendering → succeeded (leased by workerId); false if the job moved on meanwhile (canceled) */
  succeed(id: string, workerId: string, now: number, output: SucceededOutput): Promise<boolean>;
  /** rendering → failed, or → retry_scheduled when `retryAt` is given */
  fail(id: string, workerId: string, now: number, error: AttemptError, retryAt: number | null): Promise<boolean>;
  /** queued/retry_scheduled/rendering → canceled; returns the job after the attempt */
  cancel(accountId: string, id: string, now: number): Promise<{ canceled: boolean; job: RenderJobRecord | null }>;
  /** cancels every unfinished job of a deploy; returns how many */
  cancelForDeploy(deployId: string, now: number): Promise<number>;
  /** cancels every unfinished job of an account (the workspace is being deleted), without webhooks; returns how many */
  cancelForAccount(accountId: string, now: number): Promise<number>;
  /** deletes a terminal job (its output must be deleted first) */
  delete(accountId: string, id: string): Promise<boolean>;
  /** retry_scheduled whose time has come → queued; returns how many */
  promoteDue(now: number): Promise<number>;
  /** rendering with a lapsed lease (worker lost) → retry_scheduled at `retryAt(job)`, or failed when out of attempts */
  reclaimExpired(now: number, retryAt: (job: RenderJobRecord) => number): Promise<number>;
  /** the earliest nextAttemptAt / leaseExpiresAt to wake up for, or null */
  nextWakeAt(): Promise<number | null>;
  /** marks the output deleted (the blob is deleted by the caller) */
  markOutputDeleted(id: string, now: number): Promise<void>;
  /** transient outputs past their expiry that still have bytes */
  expiredOutputs(now: number, limit: number): Promise<RenderJobRecord[]>;
  /** whether a job's live output or a live managed PDF is stored under `key` */
  isOutputRecorded(key: string): Promise<boolean>;
  /** jobs whose terminal webhook has not been handed to the sender yet */
  pendingWebhooks(limit: number): Promise<RenderJobRecord[]>;
  clearWebhookPending(id: string): Promise<void>;
  /** counts of jobs by status (metrics) */
  countByStatus(): Promise<Record<RenderJobStatus, number>>;
  /** bytes of live transient outputs and managed PDFs of an account */
  outputBytes(accountId: string): Promise<{ managedPdfStorageBytes: number; renderOutputStorageBytes: number }>;


  /** called when a job may be claimable (same process); returns an unsubscribe function */
  onWork(listener: () => void): () => void;
  /**
   * called with the job id whenever a job reaches a terminal state (this process's jobs, and other processes' where
   * the dialect passes their events on), and whether that left a webhook pending
   */
  onTerminal(listener: (jobId: string, webhookPending: boolean) => void): () => void;
}

export interface PdfRepository {
  get(accountId: string, id: string): Promise<PdfRecord | null>;
  list(accountId: string, filter: { deployId?: string }, page: PageRequest): Promise<PdfRecord[]>;
  markDeleted(accountId: string, id: string, now: number): Promise<boolean>;
  /** size and lifetime of the account's managed PDFs stored at any time in [from, to) (deleted ones included) */
  storedBetween(accountId: string, from: number, to: number): Promise<StoredPdf[]>;
}

/** The repositories a transaction hands out: all but the render queue, which keeps its own transactions and wake-ups. */
export type Transactional = Omit<Database, 'renderJobs' | 'ping' | 'close' | 'transaction' | 'description'>;

export interface Database extends PeopleRepositories {
  accounts: AccountRepository;
  apiKeys: ApiKeyRepository;
  deploys: DeployRepository;
  versions: DeployVersionRepository;
  aliases: AliasRepository;
  uploads: UploadSessionRepository;
  blobs: AccountBlobRepository;
  usage: UsageRepository;
  idempotency: IdempotencyRepository;
  webhooks: WebhookRepository;
  renderJobs: RenderJobRepository;
  pdfs: PdfRepository;
  /**
   * Runs `fn` in one write transaction: the repositories handed to it join the transaction (the audit log is written
   * with the change it records). `fn` must have no effects outside the database: PostgreSQL may re-run it whole.
   */
  transaction<T>(fn: (tx: Transactional) => Promise<T>): Promise<T>;
  /** cheap liveness query for /readyz */
  ping(): Promise<void>;
  /** which database, and for SQLite which driver, for logs and /readyz (no credentials) */
  readonly description: string;
  /** closes the connection(s): pool, LISTEN session or file */
  close(): Promise<void>;
}
