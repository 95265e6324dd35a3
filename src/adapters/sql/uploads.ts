import { ConflictError, StorageLimitError } from '../../model/errors.js';
import type { FileEntry } from '../../model/records.js';
import type { AccountBlobRepository, UploadSessionRepository } from '../../ports/database.js';
import { deployVersions, uploadSessionFiles, uploadSessions } from './catalogue.js';
import { UPSERT_ALIAS } from './deploys.js';
import type { Dialect } from './dialect.js';
import type { SqlExecutor } from './executor.js';
import { every, first, insertMany, insertRecord, scalar } from './query.js';
import { admitUnit } from './usage.js';

/** bytes of the distinct blobs the account's live versions hold, together with one session's manifest */
const COMMITTED_BYTES = `SELECT coalesce(sum(size), 0) AS n FROM (
  SELECT f.sha256, f.size FROM deploy_version_files f JOIN deploy_versions v ON v.id = f.deploy_version_id JOIN deploys d ON d.id = v.deploy_id
  WHERE v.account_id = ? AND d.deleted_at IS NULL
  UNION
  SELECT sha256, size FROM upload_session_files WHERE upload_session_id = ?
) held`;

export function uploadSessionRepository(x: SqlExecutor, dialect: Dialect): UploadSessionRepository {
  return {
    create: (s, files) =>
      x.tx(async (t) => {
        await insertRecord(t, uploadSessions, s);
        // a manifest may list thousands of files: a few multi-row statements, not a round trip per file
        await insertMany(t, 'upload_session_files', ['upload_session_id', 'path', 'sha256', 'size', 'mime'], files.map((f) => [s.id, f.path, f.sha256, f.size, f.mime]));
      }),
    get: (accountId, id) => first(x, uploadSessions, 'SELECT * FROM upload_sessions WHERE account_id = ? AND id = ?', [accountId, id]),
    files: (sessionId) =>
      every(x, uploadSessionFiles, 'SELECT path, sha256, size, mime FROM upload_session_files WHERE upload_session_id = ? ORDER BY path', [sessionId]) as Promise<FileEntry[]>,
    missingBlobs: async (accountId, sessionId) =>
      (await x.all(
        `SELECT f.sha256, max(f.size) AS size FROM upload_session_files f
         WHERE f.upload_session_id = ? AND NOT EXISTS (SELECT 1 FROM account_blobs b WHERE b.account_id = ? AND b.sha256 = f.sha256)
         GROUP BY f.sha256 ORDER BY f.sha256`,
        [sessionId, accountId],
      )).map((r) => ({ sha256: r.sha256 as string, size: Number(r.size) })),
    presentBlobStats: async (accountId, sessionId) => {
      const r = await x.one(
        `SELECT count(*) AS count, coalesce(sum(b.size), 0) AS bytes FROM account_blobs b
         WHERE b.account_id = ? AND b.sha256 IN (SELECT sha256 FROM upload_session_files WHERE upload_session_id = ?)`,
        [accountId, sessionId],
      );
      return { count: Number(r!.count), bytes: Number(r!.bytes) };
    },
    tryLockCommit: async (sessionId, now, until) =>
      (await x.run(
        `UPDATE upload_sessions SET commit_lock_until = ? WHERE id = ? AND status = 'open' AND (commit_lock_until IS NULL OR commit_lock_until <= ?)`,
        [until, sessionId, now],
      )) === 1,
    releaseCommitLock: async (sessionId) => void (await x.run('UPDATE upload_sessions SET commit_lock_until = NULL WHERE id = ?', [sessionId])),
    commit: ({ session, version, aliases, now, storageLimitBytes, quota }) =>
      x.tx(async (t) => {
        // first: the quota gate is taken before any row lock
        await admitUnit(t, dialect, session.accountId, 'deploy_commits', quota);
        if (storageLimitBytes !== undefined && storageLimitBytes !== null) {
          // a no-op write on the account row: PostgreSQL row-locks it, so the account's commits check one at a time
          // (SQLite's BEGIN IMMEDIATE already serialises every write transaction)
          await t.run('UPDATE accounts SET id = id WHERE id = ?', [session.accountId]);
          const bytes = await scalar(t, COMMITTED_BYTES, [session.accountId, session.id]);
          if (bytes > storageLimitBytes) throw new StorageLimitError(bytes, storageLimitBytes);
        }
        const changed = await t.run(
          `UPDATE upload_sessions SET status = 'committed', committed_at = ?, commit_lock_until = NULL, deploy_version_id = ? WHERE id = ? AND status = 'open'`,
          [now, version.id, session.id],
        );
        if (changed !== 1) throw new ConflictError('upload_sessions.status');
        await insertRecord(t, deployVersions, version);
        await t.run(
          `INSERT INTO deploy_version_files (deploy_version_id, path, sha256, size, mime)
           SELECT ?, path, sha256, size, mime FROM upload_session_files WHERE upload_session_id = ?`,
          [version.id, session.id],
        );
        for (const name of aliases) await t.run(UPSERT_ALIAS, [version.deployId, name, version.id, now]);
        await t.run(`INSERT INTO usage_records (account_id, meter, quantity, occurred_at) VALUES (?, 'deploy_commits', 1, ?)`, [session.accountId, now]);
      }),
    expire: (now) => x.run(`UPDATE upload_sessions SET status = 'expired', commit_lock_until = NULL WHERE status = 'open' AND expires_at <= ?`, [now]),
  };
}

export function accountBlobRepository(x: SqlExecutor): AccountBlobRepository {
  return {
    recordAccountBlob: async (accountId, sha256, size, at) =>
      void (await x.run('INSERT INTO account_blobs (account_id, sha256, size, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING', [accountId, sha256, size, at])),
    hasAccountBlob: async (accountId, sha256) => (await x.one('SELECT 1 AS n FROM account_blobs WHERE account_id = ? AND sha256 = ?', [accountId, sha256])) !== undefined,
    accountBlobBytes: (accountId) => scalar(x, 'SELECT coalesce(sum(size), 0) AS n FROM account_blobs WHERE account_id = ?', [accountId]),
    dropUnreferencedAccountBlobs: () =>
      x.run(
        `DELETE FROM account_blobs WHERE NOT EXISTS (
           SELECT 1 FROM deploy_version_files f JOIN deploy_versions v ON v.id = f.deploy_version_id JOIN deploys d ON d.id = v.deploy_id
           WHERE f.sha256 = account_blobs.sha256 AND v.account_id = account_blobs.account_id AND d.deleted_at IS NULL
         ) AND NOT EXISTS (
           SELECT 1 FROM upload_session_files f JOIN upload_sessions s ON s.id = f.upload_session_id
           WHERE f.sha256 = account_blobs.sha256 AND s.account_id = account_blobs.account_id AND s.status = 'open'
         )`,
      ),
    isHeld: async (sha256) => (await x.one('SELECT 1 AS n FROM account_blobs WHERE sha256 = ? LIMIT 1', [sha256])) !== undefined,
  };
}
