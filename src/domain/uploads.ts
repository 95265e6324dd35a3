import type { Readable } from 'node:stream';
import { BlobRejectedError } from '../ports/blob-store.js';
import type { DeployRecord, FileEntry, UploadSessionRecord } from '../model/records.js';
import { accountPolicy, checkQuota, recordingUnit } from './usage.js';
import { audited, type AuditEvent } from './audit.js';
import type { Caller, DomainDeps } from './context.js';
import { requireRole } from './context.js';
import { hashToken, safeEqual } from './crypto.js';
import { ConflictError, StorageLimitError } from '../model/errors.js';
import { AppError, Errors } from './errors.js';
import { insertDeploy, loadDeploy, requireAliasRole, checkAliasName, versionView } from './deploys.js';
import { newId, newSecret } from './ids.js';
import { UPLOAD_LIMITS } from './policy.js';

export const MAX_PATH_BYTES = 512;

/** Where a blob's bytes live: content-addressed and sharded so no directory grows huge. */
export function blobKey(sha256: string): string {
  return `blobs/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
}

/** Relative POSIX path, already normalised: no empty, `.` or `..` segments, no leading slash, no backslash or NUL. */
export function checkPath(path: string): string | null {
  if (path.length === 0) return 'is empty';
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return `is longer than ${MAX_PATH_BYTES} bytes`;
  if (path.startsWith('/')) return 'must be relative (no leading "/")';
  if (path.includes('\\')) return 'must use "/" as separator';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(path)) return 'contains control characters';
  const segments = path.split('/');
  if (segments.some((s) => s === '..')) return 'must not contain ".." segments';
  if (segments.some((s) => s === '' || s === '.')) return 'is not normalised (empty or "." segment, or trailing "/")';
  return null;
}

export function sessionView(s: UploadSessionRecord, stats?: { count: number; bytes: number; distinct: number }) {
  return {
    id: s.id,
    deployId: s.deployId,
    status: s.status,
    requestedFileCount: s.requestedFileCount,
    requestedBytes: s.requestedBytes,
    ...(stats ? { requestedBlobCount: stats.distinct, uploadedBlobCount: stats.count, uploadedBytes: stats.bytes } : {}),
    createdAt: s.createdAt,
    expiresAt: s.expiresAt,
    committedAt: s.committedAt,
    deployVersionId: s.deployVersionId,
  };
}

export interface CreateSessionInput {
  deployId?: string;
  createDeploy?: { slug: string; name: string };
  files: FileEntry[];
}

export async function createUploadSession(deps: DomainDeps, caller: Caller, input: CreateSessionInput) {
  requireRole(caller, 'editor', 'Creating upload sessions');
  if ((input.deployId === undefined) === (input.createDeploy === undefined)) {
    throw Errors.invalidInput('Send exactly one of deployId or createDeploy.');
  }
  const seen = new Set<string>();
  const hashSizes = new Map<string, number>();
  let bytes = 0;
  for (const f of input.files) {
    const problem = checkPath(f.path);
    if (problem) throw Errors.invalidInput(`files: path ${JSON.stringify(f.path)} ${problem}.`);
    if (seen.has(f.path)) throw Errors.invalidInput(`files: path ${JSON.stringify(f.path)} is listed twice.`);
    seen.add(f.path);
    if (f.size > UPLOAD_LIMITS.maxSingleFileBytes) {
      throw Errors.uploadBlobTooLarge(`files: ${f.path} is ${f.size} bytes; the limit is ${UPLOAD_LIMITS.maxSingleFileBytes} bytes per file.`);
    }
    const known = hashSizes.get(f.sha256);
    if (known !== undefined && known !== f.size) throw Errors.invalidInput(`files: sha256 ${f.sha256} is listed with two different sizes.`);
    hashSizes.set(f.sha256, f.size);
    bytes += f.size;
  }
  if (input.files.length > UPLOAD_LIMITS.maxSessionFiles || bytes > UPLOAD_LIMITS.maxSessionBytes) {
    throw Errors.uploadSessionTooLarge(
      `The session lists ${input.files.length} files and ${bytes} bytes; the limits are ${UPLOAD_LIMITS.maxSessionFiles} files and ${UPLOAD_LIMITS.maxSessionBytes} bytes.`,
    );
  }
  const { policy } = await accountPolicy(deps, caller.accountId);
  if ((policy.maxFilesPerDeployCommit !== null && input.files.length > policy.maxFilesPerDeployCommit) ||
      (policy.maxBytesPerDeployCommit !== null && bytes > policy.maxBytesPerDeployCommit)) {
    throw Errors.uploadSessionPolicyLimitExceeded(
      `Your plan allows ${policy.maxFilesPerDeployCommit ?? 'unlimited'} files and ${policy.maxBytesPerDeployCommit ?? 'unlimited'} bytes per deploy commit; this session has ${input.files.length} files and ${bytes} bytes.`,
    );
  }
  if (policy.storageLimitBytes !== null) {
    const held = await deps.db.blobs.accountBlobBytes(caller.accountId);
    let newBytes = 0;
    for (const [sha, size] of hashSizes) if (!(await deps.db.blobs.hasAccountBlob(caller.accountId, sha))) newBytes += size;
    if (held + newBytes > policy.storageLimitBytes) {
      throw Errors.storageLimitExceeded(`This upload would bring storage to ${held + newBytes} bytes; your plan's limit is ${policy.storageLimitBytes} bytes.`);
    }
  }
  await checkQuota(deps, caller.accountId, 'deploy_commits');

  const deploy: DeployRecord = input.deployId !== undefined
    ? await loadDeploy(deps, caller, input.deployId)
    : await insertDeploy(deps, caller, input.createDeploy!);

  const now = deps.clock.now();
  const token = newSecret('ustk');
  const session: UploadSessionRecord = {
    id: newId('us', now), accountId: caller.accountId, deployId: deploy.id, status: 'open', uploadTokenHash: hashToken(token),
    requestedFileCount: input.files.length, requestedBytes: bytes, createdAt: now, expiresAt: now + UPLOAD_LIMITS.sessionLifetimeMs,
    committedAt: null, commitLockUntil: null, deployVersionId: null,
  };
  await deps.db.uploads.create(session, input.files);
  return { uploadSession: sessionView(session), uploadToken: token };
}

async function loadSession(deps: DomainDeps, caller: Caller, id: string): Promise<UploadSessionRecord> {
  const s = await deps.db.uploads.get(caller.accountId, id);
  if (!s) throw Errors.uploadSessionNotFound(`Upload session ${id} does not exist.`);
  if (s.status === 'open' && s.expiresAt <= deps.clock.now()) return { ...s, status: 'expired' };
  return s;
}

/** Token check, then expiry: the order a client debugging its calls finds most useful. */
async function loadSessionWithToken(deps: DomainDeps, caller: Caller, id: string, token: string | undefined) {
  const s = await loadSession(deps, caller, id);
  if (!token) throw Errors.uploadTokenMissing('Send the session\'s upload token as "X-Upload-Token: ustk_...".');
  if (!safeEqual(hashToken(token), s.uploadTokenHash)) throw Errors.uploadTokenInvalid('The upload token does not belong to this upload session.');
  if (s.status === 'expired') throw Errors.uploadSessionExpired(`Upload session ${id} expired at ${new Date(s.expiresAt).toISOString()}; create a new session.`);
  return s;
}

function notOpen(s: UploadSessionRecord) {
  return Errors.uploadSessionNotOpen(`Upload session ${s.id} is ${s.status}${s.deployVersionId ? ` (version ${s.deployVersionId})` : ''}.`);
}

async function stats(deps: DomainDeps, s: UploadSessionRecord) {
  const [present, missing] = await Promise.all([
    deps.db.uploads.presentBlobStats(s.accountId, s.id),
    deps.db.uploads.missingBlobs(s.accountId, s.id),
  ]);
  return { ...present, distinct: present.count + missing.length };
}

export async function getUploadSession(deps: DomainDeps, caller: Caller, id: string) {
  const s = await loadSession(deps, caller, id);
  return { uploadSession: sessionView(s, await stats(deps, s)) };
}

export async function missingBlobs(deps: DomainDeps, caller: Caller, id: string, token: string | undefined, subset?: string[]) {
  requireRole(caller, 'editor', 'Uploading');
  const s = await loadSessionWithToken(deps, caller, id, token);
  if (s.status !== 'open') throw notOpen(s);
  let missing = await deps.db.uploads.missingBlobs(caller.accountId, s.id);
  if (subset) {
    const wanted = new Set(subset);
    missing = missing.filter((m) => wanted.has(m.sha256));
  }
  return { uploadSessionId: s.id, missing: missing.map((m) => m.sha256), missingBytes: missing.reduce((n, m) => n + m.size, 0) };
}

export async function putBlob(deps: DomainDeps, caller: Caller, id: string, token: string | undefined, sha256: string, body: Readable) {
  requireRole(caller, 'editor', 'Uploading');
  const s = await loadSessionWithToken(deps, caller, id, token);
  if (s.status !== 'open') throw notOpen(s);
  const entry = (await deps.db.uploads.files(s.id)).find((f) => f.sha256 === sha256);
  if (!entry) throw Errors.uploadBlobNotInSession(`Blob ${sha256} is not listed in upload session ${s.id}.`);
  const blob = { sha256, size: entry.size, mime: entry.mime, r2Key: blobKey(sha256) };
  if (await deps.db.blobs.hasAccountBlob(caller.accountId, sha256)) {
    body.resume(); // already held: drain and skip the write
    return { uploadSessionId: s.id, alreadyPresent: true, blob };
  }
  try {
    await deps.blobs.put(blob.r2Key, body, { expectedSha256: sha256, expectedSize: entry.size, maxBytes: UPLOAD_LIMITS.maxSingleFileBytes });
  } catch (err) {
    if (err instanceof BlobRejectedError) {
      body.resume();
      if (err.reason === 'too_large') throw Errors.uploadBlobBodyTooLarge(`Blobs are limited to ${UPLOAD_LIMITS.maxSingleFileBytes} bytes.`);
      if (err.reason === 'size_mismatch') {
        throw Errors.uploadBlobSizeMismatch(`The manifest says ${entry.size} bytes for ${sha256}; the body had ${err.actual.size}${err.actual.sha256 ? '' : '+'} bytes. Nothing was stored.`);
      }
      throw Errors.uploadBlobHashMismatch(`The body hashes to ${err.actual.sha256}, not ${sha256}. Nothing was stored.`);
    }
    throw err;
  }
  await deps.db.blobs.recordAccountBlob(caller.accountId, sha256, entry.size, deps.clock.now());
  return { uploadSessionId: s.id, alreadyPresent: false, blob };
}

export async function commitUploadSession(deps: DomainDeps, caller: Caller, id: string, token: string | undefined, input: { aliases?: string[] }) {
  requireRole(caller, 'editor', 'Committing upload sessions');
  const aliases = [...new Set(input.aliases ?? [])];
  for (const a of aliases) {
    try {
      checkAliasName(a);
    } catch (err) {
      // the alias comes from the body here, not the path
      if (err instanceof AppError) throw Errors.invalidInput(`aliases: ${err.message}`);
      throw err;
    }
    requireAliasRole(caller, a);
  }
  const s = await loadSessionWithToken(deps, caller, id, token);
  if (s.status !== 'open') throw notOpen(s);
  const now = deps.clock.now();
  if (!(await deps.db.uploads.tryLockCommit(s.id, now, now + UPLOAD_LIMITS.commitLockMs))) {
    const again = await loadSession(deps, caller, id);
    if (again.status !== 'open') throw notOpen(again);
    throw Errors.uploadSessionCommitInProgress(`Upload session ${id} is being committed by another request; retry in a moment.`);
  }
  try {
    const deploy = await loadDeploy(deps, caller, s.deployId);
    const missing = await deps.db.uploads.missingBlobs(caller.accountId, s.id);
    if (missing.length) {
      throw Errors.uploadSessionIncomplete(
        `${missing.length} blob(s) (${missing.reduce((n, m) => n + m.size, 0)} bytes) are not uploaded yet; ask missing-blobs and upload them before committing.`,
      );
    }
    const { policy } = await accountPolicy(deps, caller.accountId);
    if ((policy.maxFilesPerDeployCommit !== null && s.requestedFileCount > policy.maxFilesPerDeployCommit) ||
        (policy.maxBytesPerDeployCommit !== null && s.requestedBytes > policy.maxBytesPerDeployCommit)) {
      throw Errors.deployCommitPolicyLimitExceeded(
        `Your plan allows ${policy.maxFilesPerDeployCommit ?? 'unlimited'} files and ${policy.maxBytesPerDeployCommit ?? 'unlimited'} bytes per deploy commit.`,
      );
    }
    const commitQuota = await checkQuota(deps, caller.accountId, 'deploy_commits');
    const version = {
      id: newId('dv', now), accountId: caller.accountId, deployId: deploy.id, fileCount: s.requestedFileCount,
      bytes: s.requestedBytes, uploadSessionId: s.id, createdAt: now,
    };
    try {
      // the new version and each alias the commit points at it are audited like their own routes' changes
      const events: AuditEvent[] = [
        { action: 'deploy.version_created', targetType: 'deploy', targetId: deploy.id, details: { deployVersionId: version.id, fileCount: version.fileCount, bytes: version.bytes, aliases } },
        ...aliases.map((alias) => ({ action: 'alias.updated', targetType: 'deploy', targetId: deploy.id, details: { alias, deployVersionId: version.id, by: 'commit' } })),
      ];
      await recordingUnit(deps, () => audited(deps, caller.accountId, caller, events,
        (db) => db.uploads.commit({ session: s, version, aliases, now, storageLimitBytes: policy.storageLimitBytes, quota: commitQuota ?? undefined })));
    } catch (err) {
      // checked again here, not only when the session was opened: sessions opened at once must not all fit
      if (err instanceof StorageLimitError) {
        throw Errors.storageLimitExceeded(`This commit would bring storage to ${err.bytes} bytes; your plan's limit is ${err.limit} bytes.`);
      }
      if (err instanceof ConflictError) {
        // no longer open: committed by a request whose lock had lapsed, or expired (sweep, deploy deleted) meanwhile
        const current = (await deps.db.uploads.get(caller.accountId, s.id)) ?? { ...s, status: 'expired' as const };
        if (current.status === 'expired') throw Errors.uploadSessionExpired(`Upload session ${id} expired before the commit finished; create a new session.`);
        throw notOpen(current);
      }
      throw err;
    }
    const committed = (await deps.db.uploads.get(caller.accountId, s.id))!;
    return { deployVersion: versionView(version), uploadSession: sessionView(committed, await stats(deps, committed)) };
  } catch (err) {
    await deps.db.uploads.releaseCommitLock(s.id);
    throw err;
  }
}

/** Marks open sessions past their lifetime as expired. */
export async function expireUploadSessions(deps: DomainDeps): Promise<number> {
  return deps.db.uploads.expire(deps.clock.now());
}

/**
 * Releases blobs nothing needs: account holdings no live version or open session references are dropped, then
 * blob files no account holds are deleted, but only when older than `graceMs` so an upload that has written its
 * file and not yet recorded it is never collected.
 */
export async function collectGarbage(deps: DomainDeps, opts: { graceMs?: number } = {}): Promise<{ released: number; deleted: number }> {
  const graceMs = opts.graceMs ?? 60 * 60_000;
  const released = await deps.db.blobs.dropUnreferencedAccountBlobs();
  let deleted = 0;
  const cutoff = deps.clock.now() - graceMs;
  for await (const { key, modifiedAt } of deps.blobs.list('blobs/')) {
    const sha = key.slice(key.lastIndexOf('/') + 1);
    if (modifiedAt > cutoff || !/^[0-9a-f]{64}$/.test(sha)) continue;
    if (await deleteUnheldBlob(deps, sha, cutoff)) deleted++;
  }
  return { released, deleted };
}

/**
 * Deletes a content blob from the store when no account holds it and its file is not newer than `cutoff`. An upload
 * of the same blob may have replaced the file (fresh mtime) and not yet recorded its holding: the file is looked at
 * again right before deleting, so a new upload is never collected from under its holder (the GC takes it later).
 */
export async function deleteUnheldBlob(deps: DomainDeps, sha256: string, cutoff: number): Promise<boolean> {
  if (await deps.db.blobs.isHeld(sha256)) return false;
  const key = blobKey(sha256);
  const current = await deps.blobs.stat(key);
  if (!current || current.modifiedAt > cutoff) return false;
  await deps.blobs.delete(key);
  return true;
}
