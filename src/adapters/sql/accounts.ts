import type { AccountRepository, ApiKeyRepository } from '../../ports/database.js';
import { accounts, apiKeys } from './catalogue.js';
import type { Dialect } from './dialect.js';
import type { SqlExecutor } from './executor.js';
import { first, insertRecord, pageOf, scalar, updateRecord } from './query.js';

export function accountRepository(x: SqlExecutor, dialect: Dialect): AccountRepository {
  return {
    create: async (a) => void (await insertRecord(x, accounts, a)),
    get: (id) => first(x, accounts, 'SELECT * FROM accounts WHERE id = ?', [id]),
    getByName: (name) => first(x, accounts, 'SELECT * FROM accounts WHERE name = ?', [name]),
    count: () => scalar(x, 'SELECT count(*) AS n FROM accounts'),
    list: (page) => pageOf(x, accounts, '1 = 1', [], page),
    update: (id, patch) => updateRecord(x, accounts, patch, 'id = ?', [id]),
    getPersonal: (userId) => first(x, accounts, 'SELECT * FROM accounts WHERE personal_user_id = ?', [userId]),
    delete: (id) => deleteAccount(x, dialect, id),
  };
}

/** Rows of an account's deploys, versions, upload sessions and render jobs, by the parent's account. */
const OF_DEPLOYS = 'SELECT id FROM deploys WHERE account_id = ?';
const OF_VERSIONS = 'SELECT id FROM deploy_versions WHERE account_id = ?';
const OF_SESSIONS = 'SELECT id FROM upload_sessions WHERE account_id = ?';
const OF_JOBS = 'SELECT id FROM render_jobs WHERE account_id = ?';

/**
 * Everything the account holds, children before parents (the foreign keys are enforced on both databases), in the
 * caller's transaction. The blob-store keys are read first, in the same transaction, so none is missed.
 */
async function deleteAccount(x: SqlExecutor, dialect: Dialect, id: string): Promise<{ outputKeys: string[]; blobSha256s: string[] } | null> {
  // the row lock first: a concurrent insert that references the account (a webhook event of a job canceled just
  // before, a new job) waits for this transaction and then fails, instead of slipping in under a deleted parent
  if (!(await x.one(`SELECT 1 AS n FROM accounts WHERE id = ?${dialect.forUpdate}`, [id]))) return null;
  const outputs = await x.all(
    `SELECT output_key AS k FROM render_jobs WHERE account_id = ? AND output_key IS NOT NULL
     UNION SELECT blob_key AS k FROM pdfs WHERE account_id = ?`,
    [id, id],
  );
  const blobs = await x.all('SELECT sha256 FROM account_blobs WHERE account_id = ?', [id]);
  const steps: [string, string][] = [
    ['webhook_deliveries', 'account_id = ?'],
    ['webhook_events', 'account_id = ?'],
    ['render_job_payloads', `render_job_id IN (${OF_JOBS})`],
    ['pdfs', 'account_id = ?'],
    ['render_jobs', 'account_id = ?'],
    ['upload_session_files', `upload_session_id IN (${OF_SESSIONS})`],
    ['upload_sessions', 'account_id = ?'],
    ['aliases', `deploy_id IN (${OF_DEPLOYS})`],
    ['deploy_version_files', `deploy_version_id IN (${OF_VERSIONS})`],
    ['deploy_versions', 'account_id = ?'],
    ['deploy_vars', `deploy_id IN (${OF_DEPLOYS})`],
    ['deploys', 'account_id = ?'],
    ['account_blobs', 'account_id = ?'],
    ['usage_records', 'account_id = ?'],
    ['usage_totals', 'account_id = ?'],
    ['idempotency_keys', 'account_id = ?'],
    ['api_keys', 'account_id = ?'],
    ['invitations', 'account_id = ?'],
    ['memberships', 'account_id = ?'],
    ['audit_log', 'account_id = ?'],
    ['accounts', 'id = ?'],
  ];
  for (const [table, where] of steps) await x.run(`DELETE FROM ${table} WHERE ${where}`, [id]);
  return { outputKeys: outputs.map((r) => r.k as string), blobSha256s: blobs.map((r) => r.sha256 as string) };
}

export function apiKeyRepository(x: SqlExecutor): ApiKeyRepository {
  return {
    create: async (k) => void (await insertRecord(x, apiKeys, k)),
    getByHash: (h) => first(x, apiKeys, 'SELECT * FROM api_keys WHERE key_hash = ?', [h]),
    get: (accountId, id) => first(x, apiKeys, 'SELECT * FROM api_keys WHERE account_id = ? AND id = ?', [accountId, id]),
    list: (accountId, page) => pageOf(x, apiKeys, 'account_id = ?', [accountId], page),
    disable: async (accountId, id, at) => {
      await x.run('UPDATE api_keys SET disabled_at = coalesce(disabled_at, ?) WHERE account_id = ? AND id = ?', [at, accountId, id]);
    },
    enable: async (accountId, id) => {
      await x.run('UPDATE api_keys SET disabled_at = NULL WHERE account_id = ? AND id = ?', [accountId, id]);
    },
    delete: async (accountId, id) => {
      await x.run('DELETE FROM idempotency_keys WHERE account_id = ? AND api_key_id = ?', [accountId, id]);
      return (await x.run('DELETE FROM api_keys WHERE account_id = ? AND id = ?', [accountId, id])) === 1;
    },
    touch: async (id, at) => {
      await x.run('UPDATE api_keys SET last_used_at = ? WHERE id = ?', [at, id]);
    },
  };
}
