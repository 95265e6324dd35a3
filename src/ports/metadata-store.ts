import type { CursorPosition, PageRequest } from '../domain/pagination.js';
import type { PlanKey } from '../domain/policy.js';

/*
 * The metadata store port. Every method is one atomic persistence step; the domain composes them and relies on
 * conditional updates (compare-and-set) rather than long transactions, so SQLite and PostgreSQL adapters can
 * both implement it. Unique-constraint failures surface as `ConflictError` from domain/errors.
 * List methods take a PageRequest and return up to `limit + 1` rows ordered (createdAt desc, id desc).
 */

export type Role = 'admin' | 'editor' | 'viewer';

export interface AccountRecord {
  id: string;
  name: string;
  planKey: PlanKey;
  /** encrypted (see domain/crypto) */
  webhookSigningSecret: string;
  createdAt: number;
}

export interface ApiKeyRecord {
  id: string;
  accountId: string;
  name: string;
  role: Role;
  prefix: string;
  keyHash: string;
  createdAt: number;
  lastUsedAt: number | null;
  disabledAt: number | null;
}

export interface DeployRecord {
  id: string;
  accountId: string;
  slug: string;
  name: string;
  createdAt: number;
  deletedAt: number | null;
  webhookEnabled: boolean;
  webhookUrl: string | null;
  /** encrypted, null = use the account's secret */
  webhookSigningSecret: string | null;
}

export interface DeployVar {
  kind: 'env' | 'secret';
  name: string;
  /** secrets are encrypted */
  value: string;
}

export interface FileEntry {
  path: string;
  sha256: string;
  size: number;
  mime: string;
}

export interface DeployVersionRecord {
  id: string;
  accountId: string;
  deployId: string;
  fileCount: number;
  bytes: number;
  uploadSessionId: string | null;
  createdAt: number;
}

export interface AliasRecord {
  deployId: string;
  name: string;
  deployVersionId: string;
  updatedAt: number;
}

export type UploadSessionStatus = 'open' | 'committed' | 'expired';

export interface UploadSessionRecord {
  id: string;
  accountId: string;
  deployId: string;
  status: UploadSessionStatus;
  uploadTokenHash: string;
  requestedFileCount: number;
  requestedBytes: number;
  createdAt: number;
  expiresAt: number;
  committedAt: number | null;
  commitLockUntil: number | null;
  deployVersionId: string | null;
}

export type UsageMeterCode = 'deploy_commits' | 'render_jobs' | 'render_time_ms';

export interface IdempotencyRecord {
  requestHash: string;
  statusCode: number | null;
  responseBody: string | null;
  createdAt: number;
  completedAt: number | null;
}

export type IdempotencyScope = { accountId: string; method: string; route: string; key: string };

export type WebhookDeliveryStatus = 'pending' | 'succeeded' | 'failed';

/** A webhook event: created once per terminal render job (id `evt_render_job_terminated_<jobId>`). */
export interface WebhookEventRecord {
  id: string;
  accountId: string;
  deployId: string;
  renderJobId: string;
  type: 'render.job.terminated';
  /** JSON snapshot of the job view at termination */
  data: string;
  createdAt: number;
}

/** One delivery attempt of an event (the schedule while pending, the log once done). */
export interface WebhookDeliveryRecord {
  id: string;
  eventId: string;
  accountId: string;
  deployId: string;
  renderJobId: string;
  url: string;
  attempt: number;
  status: WebhookDeliveryStatus;
  responseStatus: number | null;
  error: string | null;
  createdAt: number;
  deliveredAt: number | null;
  /** pending: when it is due; failed: when the next attempt runs (null after the last) */
  nextAttemptAt: number | null;
  durationMs: number | null;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
}

export interface WebhookAttemptResult {
  status: 'succeeded' | 'failed';
  /** the URL the attempt went to (settings may have changed since the row was scheduled) */
  url: string;
  responseStatus: number | null;
  error: string | null;
  deliveredAt: number;
  durationMs: number;
  /** failed: when `next` is due, else null */
  nextAttemptAt: number | null;
}

export interface MetadataStore {
  accounts: {
    create(a: AccountRecord): Promise<void>;
    get(id: string): Promise<AccountRecord | null>;
    getByName(name: string): Promise<AccountRecord | null>;
    count(): Promise<number>;
    update(id: string, patch: Partial<Pick<AccountRecord, 'name' | 'planKey' | 'webhookSigningSecret'>>): Promise<void>;
  };

  apiKeys: {
    create(k: ApiKeyRecord): Promise<void>;
    getByHash(keyHash: string): Promise<ApiKeyRecord | null>;
    get(accountId: string, id: string): Promise<ApiKeyRecord | null>;
    list(accountId: string, page: PageRequest): Promise<ApiKeyRecord[]>;
    disable(accountId: string, id: string, at: number): Promise<void>;
    touch(id: string, at: number): Promise<void>;
  };

  deploys: {
    create(d: DeployRecord): Promise<void>;
    /** live (not deleted) deploy of the account */
    get(accountId: string, id: string): Promise<DeployRecord | null>;
    list(accountId: string, page: PageRequest): Promise<DeployRecord[]>;
    update(accountId: string, id: string, patch: Partial<Pick<DeployRecord, 'slug' | 'name' | 'webhookEnabled' | 'webhookUrl' | 'webhookSigningSecret'>>): Promise<void>;
    markDeleted(accountId: string, id: string, at: number): Promise<void>;
    listVars(deployId: string): Promise<DeployVar[]>;
    /** sets (value string) or deletes (value null) vars in one step */
    writeVars(deployId: string, changes: { kind: DeployVar['kind']; name: string; value: string | null }[]): Promise<void>;
  };

  versions: {
    get(deployId: string, id: string): Promise<DeployVersionRecord | null>;
    latest(deployId: string): Promise<DeployVersionRecord | null>;
    list(deployId: string, page: PageRequest): Promise<DeployVersionRecord[]>;
    /** files ordered by path; `afterPath` pages through them */
    listFiles(versionId: string, opts: { limit: number; afterPath?: string }): Promise<FileEntry[]>;
    getFile(versionId: string, path: string): Promise<FileEntry | null>;
  };

  aliases: {
    get(deployId: string, name: string): Promise<AliasRecord | null>;
    list(deployId: string): Promise<AliasRecord[]>;
    put(a: AliasRecord): Promise<void>;
    delete(deployId: string, name: string): Promise<boolean>;
  };

  uploads: {
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
     * points the given aliases at the version, and records a `deploy_commits` usage record.
     */
    commit(args: { session: UploadSessionRecord; version: DeployVersionRecord; aliases: string[]; now: number }): Promise<void>;
    /** open sessions past their expiry become `expired`; returns how many */
    expire(now: number): Promise<number>;
  };

  blobs: {
    /** records that the account holds this blob (idempotent) */
    recordAccountBlob(accountId: string, sha256: string, size: number, at: number): Promise<void>;
    hasAccountBlob(accountId: string, sha256: string): Promise<boolean>;
    /** bytes of distinct blobs the account holds */
    accountBlobBytes(accountId: string): Promise<number>;
    /** drops account holdings that no live version or open session of that account references; returns dropped */
    dropUnreferencedAccountBlobs(): Promise<number>;
    /** true if any account still holds this blob */
    isHeld(sha256: string): Promise<boolean>;
  };

  usage: {
    record(accountId: string, meter: UsageMeterCode, quantity: number, at: number): Promise<void>;
    total(accountId: string, meter: UsageMeterCode, from: number, to: number): Promise<number>;
  };

  idempotency: {
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
  };

  webhooks: {
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
    /** a deploy's deliveries, newest first */
    list(accountId: string, deployId: string, page: PageRequest): Promise<WebhookDeliveryRecord[]>;
  };

  /** cheap liveness query for /readyz */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export type { CursorPosition, PageRequest };
