import type { AccountRepository, ApiKeyRepository } from '../../ports/database.js';
import { accounts, apiKeys } from './catalogue.js';
import type { SqlExecutor } from './executor.js';
import { first, insertRecord, pageOf, scalar, updateRecord } from './query.js';

export function accountRepository(x: SqlExecutor): AccountRepository {
  return {
    create: async (a) => void (await insertRecord(x, accounts, a)),
    get: (id) => first(x, accounts, 'SELECT * FROM accounts WHERE id = ?', [id]),
    getByName: (name) => first(x, accounts, 'SELECT * FROM accounts WHERE name = ?', [name]),
    count: () => scalar(x, 'SELECT count(*) AS n FROM accounts'),
    list: (page) => pageOf(x, accounts, '1 = 1', [], page),
    update: (id, patch) => updateRecord(x, accounts, patch, 'id = ?', [id]),
  };
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
