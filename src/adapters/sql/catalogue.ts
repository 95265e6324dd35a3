import type {
  AccountRecord, AliasRecord, ApiKeyRecord, DeployRecord, DeployVersionRecord, PdfRecord, RenderJobRecord,
  UploadSessionRecord, WebhookDeliveryRecord, WebhookEventRecord,
} from '../../model/records.js';
import type {
  AuditEntryRecord, InvitationRecord, MembershipRecord, SessionRecord, SetupTokenRecord, UserRecord,
} from '../../model/people.js';
import type { Row } from './executor.js';

/**
 * The catalogue of tables: for each column its record field and its type. It drives row decoding and encoding for
 * both databases (booleans are 0/1 on SQLite and BOOLEAN on PostgreSQL, which accepts 0/1 as input) and the table
 * list of `migrate-store`. The schema itself lives in the numbered migrations of each dialect; test/contract/pg-migrate
 * checks that the two create the same columns, and test/adapters/catalogue.test.ts that the catalogue lists them all.
 */
export type ColumnType = 'text' | 'int' | 'bool' | 'bytes';

export interface Table<R = Row> {
  name: string;
  /** record field → column type; the column is the field in snake_case unless the table names it otherwise */
  fields: Record<string, ColumnType>;
  /** primary-key columns (migrate-store upserts by them) */
  primaryKey: string[];
  /** kept by the database itself from other tables (a trigger): migrate-store copies those, never this one */
  derived?: boolean;
  /** @internal column → field, for decoding */
  readonly columnField: Map<string, string>;
  /** @internal field → column, for encoding */
  readonly fieldColumn: Map<string, string>;
  /** @internal boolean columns */
  readonly booleans: Set<string>;
  readonly _record?: R;
}

const snake = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function table<R>(
  name: string, fields: { [K in keyof R]-?: ColumnType }, primaryKey: string[] = ['id'], columns: Partial<Record<keyof R, string>> = {},
): Table<R> {
  const f = fields as Record<string, ColumnType>;
  const named = columns as Record<string, string>;
  const entries = Object.keys(f).map((field) => [named[field] ?? snake(field), field] as const);
  return {
    name,
    fields: f,
    primaryKey,
    columnField: new Map(entries),
    fieldColumn: new Map(entries.map(([c, k]) => [k, c])),
    booleans: new Set(entries.filter(([, k]) => f[k] === 'bool').map(([c]) => c)),
  };
}

const T = 'text', I = 'int', B = 'bool', BYTES = 'bytes';

export const accounts = table<AccountRecord>('accounts', { id: T, name: T, planKey: T, webhookSigningSecret: T, createdAt: I, personalUserId: T, disabledAt: I });
export const apiKeys = table<ApiKeyRecord>('api_keys', {
  id: T, accountId: T, name: T, role: T, prefix: T, keyHash: T, userId: T, createdAt: I, lastUsedAt: I, disabledAt: I,
});
export const deploys = table<DeployRecord>('deploys', {
  id: T, accountId: T, slug: T, name: T, createdAt: I, deletedAt: I, webhookEnabled: B, webhookUrl: T, webhookSigningSecret: T,
});
export const deployVars = table<{ deployId: string; kind: string; name: string; value: string }>(
  'deploy_vars', { deployId: T, kind: T, name: T, value: T }, ['deploy_id', 'kind', 'name'],
);
export const deployVersions = table<DeployVersionRecord>('deploy_versions', {
  id: T, accountId: T, deployId: T, fileCount: I, bytes: I, uploadSessionId: T, createdAt: I,
});
export const deployVersionFiles = table<{ deployVersionId: string; path: string; sha256: string; size: number; mime: string }>(
  'deploy_version_files', { deployVersionId: T, path: T, sha256: T, size: I, mime: T }, ['deploy_version_id', 'path'],
);
export const aliases = table<AliasRecord>('aliases', { deployId: T, name: T, deployVersionId: T, updatedAt: I }, ['deploy_id', 'name']);
export const uploadSessions = table<UploadSessionRecord>('upload_sessions', {
  id: T, accountId: T, deployId: T, status: T, uploadTokenHash: T, requestedFileCount: I, requestedBytes: I, createdAt: I,
  expiresAt: I, committedAt: I, commitLockUntil: I, deployVersionId: T,
});
export const uploadSessionFiles = table<{ uploadSessionId: string; path: string; sha256: string; size: number; mime: string }>(
  'upload_session_files', { uploadSessionId: T, path: T, sha256: T, size: I, mime: T }, ['upload_session_id', 'path'],
);
export const accountBlobs = table<{ accountId: string; sha256: string; size: number; createdAt: number }>(
  'account_blobs', { accountId: T, sha256: T, size: I, createdAt: I }, ['account_id', 'sha256'],
);
/** append-only, no key: migrate-store tops it up instead of upserting */
export const usageRecords = table<{ accountId: string; meter: string; quantity: number; occurredAt: number }>(
  'usage_records', { accountId: T, meter: T, quantity: I, occurredAt: I }, [],
);
/**
 * the ledger's running total per bill period (`period_start`: its first millisecond), kept by a trigger (migrations
 * 013) in shards (PostgreSQL: one per backend, so one account's concurrent transactions do not queue on one row)
 */
export const usageTotals = {
  ...table<{ accountId: string; meter: string; periodStart: number; shard: number; quantity: number }>(
    'usage_totals', { accountId: T, meter: T, periodStart: I, shard: I, quantity: I }, ['account_id', 'meter', 'period_start', 'shard'],
  ),
  derived: true,
};
export const idempotencyKeys = table<{
  accountId: string; apiKeyId: string; method: string; route: string; key: string; requestHash: string; statusCode: number | null;
  responseBody: string | null; createdAt: number; completedAt: number | null;
}>('idempotency_keys', {
  accountId: T, apiKeyId: T, method: T, route: T, key: T, requestHash: T, statusCode: I, responseBody: T, createdAt: I, completedAt: I,
}, ['account_id', 'api_key_id', 'method', 'route', 'key']);
export const renderJobs = table<RenderJobRecord>('render_jobs', {
  id: T, accountId: T, deployId: T, deployVersionId: T, businessKey: T, entry: T, fileName: T, outputMode: T, status: T,
  attempt: I, maxAttempts: I, timeoutMs: I, requestedAt: I, startedAt: I, finishedAt: I, nextAttemptAt: I, leaseOwner: T,
  leaseExpiresAt: I, errorCode: T, errorMessage: T, outputKey: T, outputBytes: I, outputPageCount: I, outputExpiresAt: I,
  outputDeletedAt: I, pdfId: T, renderTimeMs: I, webhookPending: B, diagnostics: T, pdfOptions: T,
});
export const renderJobPayloads = table<{ renderJobId: string; mime: string; body: Buffer }>(
  'render_job_payloads', { renderJobId: T, mime: T, body: BYTES }, ['render_job_id'],
);
/** a managed PDF's `outputKey` (its key in the blob store, as a job's transient output has) is column blob_key */
export const pdfs = table<PdfRecord>('pdfs', {
  id: T, accountId: T, deployId: T, deployVersionId: T, renderJobId: T, businessKey: T, fileName: T, bytes: I, pageCount: I,
  outputKey: T, createdAt: I, deletedAt: I,
}, ['id'], { outputKey: 'blob_key' });
export const webhookEvents = table<WebhookEventRecord>('webhook_events', {
  id: T, accountId: T, deployId: T, renderJobId: T, type: T, data: T, createdAt: I,
});
export const webhookDeliveries = table<WebhookDeliveryRecord>('webhook_deliveries', {
  id: T, eventId: T, accountId: T, deployId: T, renderJobId: T, url: T, attempt: I, status: T, responseStatus: I, error: T,
  createdAt: I, deliveredAt: I, nextAttemptAt: I, durationMs: I, leaseOwner: T, leaseExpiresAt: I, redeliveryOf: T,
});

export const users = table<UserRecord>('users', { id: T, email: T, name: T, passwordHash: T, createdAt: I, passwordChangedAt: I });
export const sessions = table<SessionRecord>('sessions', {
  id: T, userId: T, tokenHash: T, createdAt: I, lastSeenAt: I, expiresAt: I, userAgent: T, ip: T,
});
export const setupTokens = table<SetupTokenRecord>('setup_tokens', { tokenHash: T, createdAt: I, expiresAt: I }, ['token_hash']);
export const memberships = table<MembershipRecord>('memberships', { id: T, accountId: T, userId: T, role: T, createdAt: I });
export const invitations = table<InvitationRecord>('invitations', {
  id: T, accountId: T, email: T, role: T, tokenHash: T, invitedByUserId: T, createdAt: I, expiresAt: I, acceptedAt: I,
  acceptedByUserId: T, revokedAt: I,
});
export const auditLog = table<AuditEntryRecord>('audit_log', {
  id: T, accountId: T, action: T, actorType: T, actorId: T, actorUserId: T, targetType: T, targetId: T, requestId: T,
  details: T, createdAt: I,
});

export const loginFailures = table<{ key: string; at: number }>('login_failures', { key: T, at: I }, []);

/** Every table, parents before children (foreign keys): the order to copy or create them in. */
export const TABLES: readonly Table[] = [
  users, accounts, apiKeys, deploys, deployVars, deployVersions, deployVersionFiles, aliases, uploadSessions, uploadSessionFiles,
  accountBlobs, usageRecords, usageTotals, idempotencyKeys, renderJobs, renderJobPayloads, pdfs, webhookEvents, webhookDeliveries,
  sessions, setupTokens, memberships, invitations, auditLog, loginFailures,
] as Table[];

/** A row of `t` → its record; columns outside the catalogue (aggregates such as `n`) keep their name. */
export function decode<R>(t: Table<R>, row: Row | undefined): R | null {
  if (!row) return null;
  const out: Row = {};
  for (const column in row) {
    const v = row[column];
    out[t.columnField.get(column) ?? column] = t.booleans.has(column) ? v === 1 || v === true : v;
  }
  return out as R;
}

export function decodeAll<R>(t: Table<R>, rows: Row[]): R[] {
  return rows.map((r) => decode(t, r) as R);
}

/** A value as both drivers bind it: booleans as 0/1, undefined as NULL. */
export function encodeValue(v: unknown): unknown {
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v === undefined ? null : v;
}

/** `INSERT INTO t (…) VALUES (?…)` for the record's fields. */
export function insert<R>(t: Table<R>, record: R, suffix = ''): { sql: string; params: unknown[] } {
  const r = record as Row;
  const columns: string[] = [];
  const params: unknown[] = [];
  for (const field in r) {
    const column = t.fieldColumn.get(field);
    if (!column) throw new Error(`${t.name} has no field ${field} (add it to the catalogue with its migration)`);
    columns.push(column);
    params.push(encodeValue(r[field]));
  }
  return { sql: `INSERT INTO ${t.name} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})${suffix}`, params };
}

/** `col = ?, …` for the defined fields of a patch, or null when there is nothing to set. */
export function assignments<R>(t: Table<R>, patch: Partial<R>): { sql: string; params: unknown[] } | null {
  const sets: string[] = [];
  const params: unknown[] = [];
  for (const [field, v] of Object.entries(patch as Row)) {
    if (v === undefined) continue;
    const column = t.fieldColumn.get(field);
    if (!column) throw new Error(`${t.name} has no field ${field}`);
    sets.push(`${column} = ?`);
    params.push(encodeValue(v));
  }
  return sets.length === 0 ? null : { sql: sets.join(', '), params };
}

/** `(?, ?, …)` for an IN list of `n` values */
export function inList(n: number): string {
  return `(${Array.from({ length: n }, () => '?').join(', ')})`;
}
