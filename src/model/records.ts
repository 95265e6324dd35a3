/*
 * The records the domain and the persistence exchange. Plain data, no behaviour: every layer may import this folder,
 * and it imports nothing of ours, so ports and adapters need nothing from the domain.
 */

export const PLAN_KEYS = ['unlimited', 'free', 'starter', 'pro'] as const;
export type PlanKey = (typeof PLAN_KEYS)[number];

export type Role = 'admin' | 'editor' | 'viewer';

export interface AccountRecord {
  id: string;
  name: string;
  planKey: PlanKey;
  /** encrypted (see domain/crypto) */
  webhookSigningSecret: string;
  createdAt: number;
  /** the user whose personal workspace this is; null for team workspaces and accounts made by the operator */
  personalUserId?: string | null;
  /** set by the operator (`press-cloud accounts disable`): keys and sessions refused, queued jobs not claimed */
  disabledAt?: number | null;
}

export interface ApiKeyRecord {
  id: string;
  accountId: string;
  name: string;
  role: Role;
  prefix: string;
  keyHash: string;
  /** the user who created the key (it acts with their current membership); null: made before the workspace had users */
  userId?: string | null;
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

/** One file of a deploy version or upload session, as recorded in its manifest: the render engine's FileEntry. */
export type { FileEntry } from '@press-cloud/engine/renderer';

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

/** Where an Idempotency-Key applies (spec §9.2): one API key's requests to one route. */
export type IdempotencyScope = { accountId: string; apiKeyId: string; method: string; route: string; key: string };

/** A managed PDF as storage metering sees it: its bytes, held from `createdAt` until `deletedAt` (null: still held). */
export interface StoredPdf {
  bytes: number;
  createdAt: number;
  deletedAt: number | null;
}

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
  /** set on an attempt a person asked for (redelivery): the delivery it was asked from; sent once, never retried */
  redeliveryOf: string | null;
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

/** Every state of a render job, in lifecycle order (the one list: SQL checks, metrics and schemas derive from it). */
export const RENDER_JOB_STATUSES = ['queued', 'rendering', 'retry_scheduled', 'succeeded', 'failed', 'canceled'] as const;
export type RenderJobStatus = (typeof RENDER_JOB_STATUSES)[number];
export const TERMINAL_STATUSES: readonly RenderJobStatus[] = ['succeeded', 'failed', 'canceled'];
export const UNFINISHED_STATUSES: readonly RenderJobStatus[] = ['queued', 'rendering', 'retry_scheduled'];

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
  /** the last attempt's RenderDiagnostics as JSON (model/diagnostics.ts); null before one ended */
  diagnostics: string | null;
  /** the print options asked for at create time (PdfOptions) as JSON; null: the defaults */
  pdfOptions: string | null;
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
  /** where the PDF's bytes are in the blob store (a transient output's key is the job's outputKey) */
  outputKey: string;
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
  /** RenderDiagnostics as JSON; absent: none */
  diagnostics?: string | null;
}

/** How an attempt failed; `diagnostics` (RenderDiagnostics as JSON) is absent or null when no page was rendered. */
export interface AttemptError {
  code: string;
  message: string;
  renderTimeMs: number;
  diagnostics?: string | null;
}

