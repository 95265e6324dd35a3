import type { AliasRepository, DeployRepository, DeployVersionRepository } from '../../ports/database.js';
import type { DeployVar, FileEntry } from '../../model/records.js';
import { aliases, deploys, deployVars, deployVersionFiles, deployVersions } from './catalogue.js';
import type { Dialect } from './dialect.js';
import type { SqlExecutor } from './executor.js';
import { every, first, insertRecord, pageOf, updateRecord } from './query.js';

/** points an alias at a version (upload commits use it too) */
export const UPSERT_ALIAS = `INSERT INTO aliases (deploy_id, name, deploy_version_id, updated_at) VALUES (?, ?, ?, ?)
  ON CONFLICT (deploy_id, name) DO UPDATE SET deploy_version_id = excluded.deploy_version_id, updated_at = excluded.updated_at`;

const FILE_COLUMNS = 'path, sha256, size, mime';

export function deployRepository(x: SqlExecutor, dialect: Pick<Dialect, 'webhookGate'>): DeployRepository {
  const { exclusive } = dialect.webhookGate;
  return {
    create: async (d) => void (await insertRecord(x, deploys, d)),
    get: (accountId, id) => first(x, deploys, 'SELECT * FROM deploys WHERE account_id = ? AND id = ? AND deleted_at IS NULL', [accountId, id]),
    list: (accountId, page) => pageOf(x, deploys, 'account_id = ? AND deleted_at IS NULL', [accountId], page),
    update: (accountId, id, patch) => {
      const where = 'account_id = ? AND id = ? AND deleted_at IS NULL';
      if (!exclusive || (patch.webhookEnabled === undefined && patch.webhookUrl === undefined)) return updateRecord(x, deploys, patch, where, [accountId, id]);
      // a webhook turned on or off: jobs ending meanwhile see the deploy before or after, never in between (Dialect)
      return x.tx(async (t) => {
        await t.one(exclusive, [id]);
        await updateRecord(t, deploys, patch, where, [accountId, id]);
      });
    },
    markDeleted: (accountId, id, at) =>
      x.tx(async (t) => {
        await t.run('UPDATE deploys SET deleted_at = ? WHERE account_id = ? AND id = ? AND deleted_at IS NULL', [at, accountId, id]);
        await t.run('DELETE FROM aliases WHERE deploy_id = ?', [id]);
        await t.run('DELETE FROM deploy_vars WHERE deploy_id = ?', [id]);
        await t.run(`UPDATE upload_sessions SET status = 'expired' WHERE deploy_id = ? AND status = 'open'`, [id]);
      }),
    listVars: (deployId) =>
      every(x, deployVars, 'SELECT kind, name, value FROM deploy_vars WHERE deploy_id = ? ORDER BY kind, name', [deployId]) as Promise<DeployVar[]>,
    writeVars: async (deployId, changes) => {
      if (changes.length === 0) return;
      await x.tx(async (t) => {
        for (const c of changes) {
          if (c.value === null) await t.run('DELETE FROM deploy_vars WHERE deploy_id = ? AND kind = ? AND name = ?', [deployId, c.kind, c.name]);
          else {
            await t.run(
              'INSERT INTO deploy_vars (deploy_id, kind, name, value) VALUES (?, ?, ?, ?) ON CONFLICT (deploy_id, kind, name) DO UPDATE SET value = excluded.value',
              [deployId, c.kind, c.name, c.value],
            );
          }
        }
      });
    },
  };
}

export function deployVersionRepository(x: SqlExecutor): DeployVersionRepository {
  return {
    get: (deployId, id) => first(x, deployVersions, 'SELECT * FROM deploy_versions WHERE deploy_id = ? AND id = ?', [deployId, id]),
    latest: (deployId) =>
      first(x, deployVersions, 'SELECT * FROM deploy_versions WHERE deploy_id = ? ORDER BY created_at DESC, id DESC LIMIT 1', [deployId]),
    list: (deployId, page) => pageOf(x, deployVersions, 'deploy_id = ?', [deployId], page),
    listFiles: (versionId, opts) =>
      (opts.afterPath !== undefined
        ? every(x, deployVersionFiles, `SELECT ${FILE_COLUMNS} FROM deploy_version_files WHERE deploy_version_id = ? AND path > ? ORDER BY path LIMIT ?`, [
            versionId, opts.afterPath, opts.limit + 1,
          ])
        : every(x, deployVersionFiles, `SELECT ${FILE_COLUMNS} FROM deploy_version_files WHERE deploy_version_id = ? ORDER BY path LIMIT ?`, [
            versionId, opts.limit + 1,
          ])) as Promise<FileEntry[]>,
    getFile: (versionId, path) =>
      first(x, deployVersionFiles, `SELECT ${FILE_COLUMNS} FROM deploy_version_files WHERE deploy_version_id = ? AND path = ?`, [versionId, path]),
  };
}

export function aliasRepository(x: SqlExecutor): AliasRepository {
  return {
    get: (deployId, name) => first(x, aliases, 'SELECT * FROM aliases WHERE deploy_id = ? AND name = ?', [deployId, name]),
    list: (deployId) => every(x, aliases, 'SELECT * FROM aliases WHERE deploy_id = ? ORDER BY name', [deployId]),
    put: async (a) => void (await x.run(UPSERT_ALIAS, [a.deployId, a.name, a.deployVersionId, a.updatedAt])),
    delete: async (deployId, name) => (await x.run('DELETE FROM aliases WHERE deploy_id = ? AND name = ?', [deployId, name])) > 0,
  };
}
