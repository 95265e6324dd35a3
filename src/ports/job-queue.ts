import type { PageRequest } from '../domain/pagination.js';

export type RenderJobStatus = 'queued' | 'rendering' | 'retry_scheduled' | 'succeeded' | 'failed' | 'canceled';
export const TERMINAL_STATUSES: readonly RenderJobStatus[] = ['succeeded', 'failed', 'canceled'];

export interface RenderJobRecord {
  id: string;
  accountId: string;
  deployId: string;
  deployVersionId: string;
  businessKey: string | null;
  entry: string;
  fileName: string;
  outputMode: 'transient' | 'managed';
  status: RenderJobStatus;
  attempt: number;
  maxAttempts: number;
  /** render bound in ms, from the plan at create time */
  timeoutMs: number;
  requestedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  nextAttemptAt: number | null;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  errorCode: string | null;
  errorMessage: string | null;
  outputKey: string | null;
  outputBytes: number | null;
  outputPageCount: number | null;
  outputExpiresAt: number | null;
  outputDeletedAt: number | null;
  pdfId: string | null;
  renderTimeMs: number | null;
  webhookPending: boolean;
}

export interface PdfRecord {
  id: string;
  accountId: string;
  deployId: string;
  deployVersionId: string;
  renderJobId: string;
  businessKey: string | null;
  fileName: string;
  bytes: number;
  pageCount: number;
  blobKey: string;
  createdAt: number;
  deletedAt: number | null;
}

export interface JobPayload {
  mime: string;
  body: Buffer;
}

export interface JobFilter {
  deployId?: string;
  status?: RenderJobStatus;
  businessKey?: string;
}

export interface SucceededOutput {
  outputKey: string;
  bytes: number;
  pageCount: number;
  outputExpiresAt: number | null;
  renderTimeMs: number;
  /** managed output: the PDF record created in the same step */
  pdf: PdfRecord | null;
}

/**
 * The durable render queue and the render jobs it holds. Every state change is a conditional update (the job is in
 * the expected state and, for a worker, still leased by it), so several workers and API nodes can share it.
 * Terminal transitions also delete the payload, record `render_time_ms` usage and set `webhookPending`.
 */
export interface JobQueue {
  /** stores a new queued job and its payload, records one `render_jobs` usage unit, and wakes idle workers */
  enqueue(job: RenderJobRecord, payload: JobPayload): Promise<void>;
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
  fail(id: string, workerId: string, now: number, error: { code: string; message: string; renderTimeMs: number }, retryAt: number | null): Promise<boolean>;
  /** queued/retry_scheduled/rendering → canceled; returns the job after the attempt */
  cancel(accountId: string, id: string, now: number): Promise<{ canceled: boolean; job: RenderJobRecord | null }>;
  /** cancels every unfinished job of a deploy; returns how many */
  cancelForDeploy(deployId: string, now: number): Promise<number>;
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

  pdfs: {
    get(accountId: string, id: string): Promise<PdfRecord | null>;
    list(accountId: string, filter: { deployId?: string }, page: PageRequest): Promise<PdfRecord[]>;
    markDeleted(accountId: string, id: string, now: number): Promise<boolean>;
  };

  /** called when a job may be claimable (same process); returns an unsubscribe function */
  onWork(listener: () => void): () => void;
  /** called with the job id whenever a job reaches a terminal state (same process) */
  onTerminal(listener: (jobId: string) => void): () => void;
}
