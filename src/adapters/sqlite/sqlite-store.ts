import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConflictError } from '../../domain/errors.js';
import type {
  AccountRecord, AliasRecord, ApiKeyRecord, DeployRecord, DeployVar, DeployVersionRecord, FileEntry,
  IdempotencyRecord, IdempotencyScope, MetadataStore, UploadSessionRecord, WebhookDeliveryRecord, WebhookEventRecord,
} from '../../ports/metadata-store.js';
import { migrate } from './migrate.js';
import { afterClause, camel, camelAll, snakeKey } from './rows.js';
import { dbCache, type DbCache } from './statements.js';

type Params = unknown[];

/** Opens (creating if needed) the SQLite database at `file` (or ':memory:') and applies migrations. */
export function openSqlite(file: string): Database.Database {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function translate(err: unknown): never {
  const code = (err as { code?: string }).code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    throw new ConflictError(String((err as Error).message), err);
  }
  throw err;
}

export class SqliteStore implements MetadataStore {
  private readonly c: DbCache;

  constructor(readonly db: Database.Database) {
    this.c = dbCache(db);
  }

  private run(sql: string, ...params: Params) {
    try {
      return this.c.stmt(sql).run(...params);
    } catch (err) {
      translate(err);
    }
  }
  private one<T>(sql: string, params: Params, booleans: string[] = []): T | null {
    return camel<T>(this.c.stmt(sql).get(...params) as Record<string, unknown> | undefined, booleans);
  }
  private all<T>(sql: string, params: Params, booleans: string[] = []): T[] {
    return camelAll<T>(this.c.stmt(sql).all(...params), booleans);
  }
  private insert(table: string, row: Record<string, unknown>) {
    const cols = Object.keys(row).map(snakeKey);
    const values = Object.values(row).map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));
    this.run(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`, ...values);
  }
  private patch(table: string, where: string, whereParams: Params, patch: Record<string, unknown>) {
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return;
    const set = entries.map(([k]) => `${snakeKey(k)} = ?`).join(', ');
    const values = entries.map(([, v]) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));
    this.run(`UPDATE ${table} SET ${set} WHERE ${where}`, ...values, ...whereParams);
  }
  private page<T>(sql: string, params: Params, page: { limit: number; after?: { createdAt: number; id: string } }, booleans: string[] = []): T[] {
    const a = afterClause(page.after);
    return this.all<T>(`${sql}${a.sql} ORDER BY created_at DESC, id DESC LIMIT ?`, [...params, ...a.params, page.limit + 1], booleans);
  }

  accounts: MetadataStore['accounts'] = {
    create: async (a) => this.insert('accounts', { ...a }),
    get: async (id) => this.one<AccountRecord>('SELECT * FROM accounts WHERE id = ?', [id]),
    getByName: async (name) => this.one<AccountRecord>('SELECT * FROM accounts WHERE name = ?', [name]),
    count: async () => (this.c.stmt('SELECT count(*) AS n FROM accounts').get() as { n: number }).n,
    update: async (id, patch) => this.patch('accounts', 'id = ?', [id], patch),
  };

  apiKeys: MetadataStore['apiKeys'] = {
    create: async (k) => this.insert('api_keys', { ...k }),
    getByHash: async (h) => this.one<ApiKeyRecord>('SELECT * FROM api_keys WHERE key_hash = ?', [h]),
    get: async (accountId, id) => this.one<ApiKeyRecord>('SELECT * FROM api_keys WHERE account_id = ? AND id = ?', [accountId, id]),
    list: async (accountId, page) => this.page<ApiKeyRecord>('SELECT * FROM api_keys WHERE account_id = ?', [accountId], page),
    disable: async (accountId, id, at) => {
      this.run('UPDATE api_keys SET disabled_at = coalesce(disabled_at, ?) WHERE account_id = ? AND id = ?', at, accountId, id);
    },
    touch: async (id, at) => {
      this.run('UPDATE api_keys SET last_used_at = ? WHERE id = ?', at, id);
    },
  };

  private static DEPLOY_BOOLS = ['webhookEnabled'];
  deploys: MetadataStore['deploys'] = {
    create: async (d) => this.insert('deploys', { ...d }),
    get: async (accountId, id) =>
      this.one<DeployRecord>('SELECT * FROM deploys WHERE account_id = ? AND id = ? AND deleted_at IS NULL', [accountId, id], SqliteStore.DEPLOY_BOOLS),
    list: async (accountId, page) =>
      this.page<DeployRecord>('SELECT * FROM deploys WHERE account_id = ? AND deleted_at IS NULL', [accountId], page, SqliteStore.DEPLOY_BOOLS),
    update: async (accountId, id, patch) => this.patch('deploys', 'account_id = ? AND id = ? AND deleted_at IS NULL', [accountId, id], patch),
    markDeleted: async (accountId, id, at) => {
      this.c.immediate(() => {
        this.run('UPDATE deploys SET deleted_at = ? WHERE account_id = ? AND id = ? AND deleted_at IS NULL', at, accountId, id);
        this.run('DELETE FROM aliases WHERE deploy_id = ?', id);
        this.run('DELETE FROM deploy_vars WHERE deploy_id = ?', id);
        this.run(`UPDATE upload_sessions SET status = 'expired' WHERE deploy_id = ? AND status = 'open'`, id);
      });
    },
    listVars: async (deployId) => this.all<DeployVar>('SELECT kind, name, value FROM deploy_vars WHERE deploy_id = ? ORDER BY kind, name', [deployId]),
    writeVars: async (deployId, changes) => {
      const upsert = this.c.stmt(
        'INSERT INTO deploy_vars (deploy_id, kind, name, value) VALUES (?, ?, ?, ?) ON CONFLICT (deploy_id, kind, name) DO UPDATE SET value = excluded.value',
      );
      const del = this.c.stmt('DELETE FROM deploy_vars WHERE deploy_id = ? AND kind = ? AND name = ?');
      this.c.immediate(() => {
        for (const c of changes) {
          if (c.value === null) del.run(deployId, c.kind, c.name);
          else upsert.run(deployId, c.kind, c.name, c.value);
        }
      });
    },
  };

  versions: MetadataStore['versions'] = {
    get: async (deployId, id) => this.one<DeployVersionRecord>('SELECT * FROM deploy_versions WHERE deploy_id = ? AND id = ?', [deployId, id]),
    latest: async (deployId) =>
      this.one<DeployVersionRecord>('SELECT * FROM deploy_versions WHERE deploy_id = ? ORDER BY created_at DESC, id DESC LIMIT 1', [deployId]),
    list: async (deployId, page) => this.page<DeployVersionRecord>('SELECT * FROM deploy_versions WHERE deploy_id = ?', [deployId], page),
    listFiles: async (versionId, opts) =>
      this.all<FileEntry>(
        `SELECT path, sha256, size, mime FROM deploy_version_files WHERE deploy_version_id = ?${opts.afterPath !== undefined ? ' AND path > ?' : ''} ORDER BY path LIMIT ?`,
        opts.afterPath !== undefined ? [versionId, opts.afterPath, opts.limit + 1] : [versionId, opts.limit + 1],
      ),
    getFile: async (versionId, path) =>
      this.one<FileEntry>('SELECT path, sha256, size, mime FROM deploy_version_files WHERE deploy_version_id = ? AND path = ?', [versionId, path]),
  };

  aliases: MetadataStore['aliases'] = {
    get: async (deployId, name) => this.one<AliasRecord>('SELECT * FROM aliases WHERE deploy_id = ? AND name = ?', [deployId, name]),
    list: async (deployId) => this.all<AliasRecord>('SELECT * FROM aliases WHERE deploy_id = ? ORDER BY name', [deployId]),
    put: async (a) => {
      this.run(
        'INSERT INTO aliases (deploy_id, name, deploy_version_id, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (deploy_id, name) DO UPDATE SET deploy_version_id = excluded.deploy_version_id, updated_at = excluded.updated_at',
        a.deployId, a.name, a.deployVersionId, a.updatedAt,
      );
    },
    delete: async (deployId, name) => (this.run('DELETE FROM aliases WHERE deploy_id = ? AND name = ?', deployId, name)?.changes ?? 0) > 0,
  };

  uploads: MetadataStore['uploads'] = {
    create: async (s, files) => {
      const ins = this.c.stmt('INSERT INTO upload_session_files (upload_session_id, path, sha256, size, mime) VALUES (?, ?, ?, ?, ?)');
      this.c.immediate(() => {
        this.insert('upload_sessions', { ...s });
        for (const f of files) ins.run(s.id, f.path, f.sha256, f.size, f.mime);
      });
    },
    get: async (accountId, id) => this.one<UploadSessionRecord>('SELECT * FROM upload_sessions WHERE account_id = ? AND id = ?', [accountId, id]),
    files: async (sessionId) => this.all<FileEntry>('SELECT path, sha256, size, mime FROM upload_session_files WHERE upload_session_id = ? ORDER BY path', [sessionId]),
    missingBlobs: async (accountId, sessionId) =>
      this.all<{ sha256: string; size: number }>(
        `SELECT f.sha256, max(f.size) AS size FROM upload_session_files f
         WHERE f.upload_session_id = ? AND NOT EXISTS (SELECT 1 FROM account_blobs b WHERE b.account_id = ? AND b.sha256 = f.sha256)
         GROUP BY f.sha256 ORDER BY f.sha256`,
        [sessionId, accountId],
      ),
    presentBlobStats: async (accountId, sessionId) =>
      this.one<{ count: number; bytes: number }>(
        `SELECT count(*) AS count, coalesce(sum(b.size), 0) AS bytes FROM account_blobs b
         WHERE b.account_id = ? AND b.sha256 IN (SELECT sha256 FROM upload_session_files WHERE upload_session_id = ?)`,
        [accountId, sessionId],
      )!,
    tryLockCommit: async (sessionId, now, until) =>
      (this.run(
        `UPDATE upload_sessions SET commit_lock_until = ? WHERE id = ? AND status = 'open' AND (commit_lock_until IS NULL OR commit_lock_until <= ?)`,
        until, sessionId, now,
      )?.changes ?? 0) === 1,
    releaseCommitLock: async (sessionId) => {
      this.run('UPDATE upload_sessions SET commit_lock_until = NULL WHERE id = ?', sessionId);
    },
    commit: async ({ session, version, aliases, now }) => {
      this.c.immediate(() => {
        const changed = this.run(
          `UPDATE upload_sessions SET status = 'committed', committed_at = ?, commit_lock_until = NULL, deploy_version_id = ? WHERE id = ? AND status = 'open'`,
          now, version.id, session.id,
        );
        if ((changed?.changes ?? 0) !== 1) throw new ConflictError('upload_sessions.status');
        this.insert('deploy_versions', { ...version });
        this.run(
          `INSERT INTO deploy_version_files (deploy_version_id, path, sha256, size, mime)
           SELECT ?, path, sha256, size, mime FROM upload_session_files WHERE upload_session_id = ?`,
          version.id, session.id,
        );
        const put = this.c.stmt(
          'INSERT INTO aliases (deploy_id, name, deploy_version_id, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (deploy_id, name) DO UPDATE SET deploy_version_id = excluded.deploy_version_id, updated_at = excluded.updated_at',
        );
        for (const name of aliases) put.run(version.deployId, name, version.id, now);
        this.run('INSERT INTO usage_records (account_id, meter, quantity, occurred_at) VALUES (?, ?, 1, ?)', session.accountId, 'deploy_commits', now);
      });
    },
    expire: async (now) => this.run(`UPDATE upload_sessions SET status = 'expired', commit_lock_until = NULL WHERE status = 'open' AND expires_at <= ?`, now)?.changes ?? 0,
  };

  blobs: MetadataStore['blobs'] = {
    recordAccountBlob: async (accountId, sha256, size, at) => {
      this.run('INSERT INTO account_blobs (account_id, sha256, size, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING', accountId, sha256, size, at);
    },
    hasAccountBlob: async (accountId, sha256) => !!this.c.stmt('SELECT 1 FROM account_blobs WHERE account_id = ? AND sha256 = ?').get(accountId, sha256),
    accountBlobBytes: async (accountId) =>
      (this.c.stmt('SELECT coalesce(sum(size), 0) AS n FROM account_blobs WHERE account_id = ?').get(accountId) as { n: number }).n,
    dropUnreferencedAccountBlobs: async () =>
      this.run(
        `DELETE FROM account_blobs WHERE NOT EXISTS (
           SELECT 1 FROM deploy_version_files f JOIN deploy_versions v ON v.id = f.deploy_version_id JOIN deploys d ON d.id = v.deploy_id
           WHERE f.sha256 = account_blobs.sha256 AND v.account_id = account_blobs.account_id AND d.deleted_at IS NULL
         ) AND NOT EXISTS (
           SELECT 1 FROM upload_session_files f JOIN upload_sessions s ON s.id = f.upload_session_id
           WHERE f.sha256 = account_blobs.sha256 AND s.account_id = account_blobs.account_id AND s.status = 'open'
         )`,
      )?.changes ?? 0,
    isHeld: async (sha256) => !!this.c.stmt('SELECT 1 FROM account_blobs WHERE sha256 = ? LIMIT 1').get(sha256),
  };

  usage: MetadataStore['usage'] = {
    record: async (accountId, meter, quantity, at) => {
      this.run('INSERT INTO usage_records (account_id, meter, quantity, occurred_at) VALUES (?, ?, ?, ?)', accountId, meter, quantity, at);
    },
    total: async (accountId, meter, from, to) =>
      (this.c
        .stmt('SELECT coalesce(sum(quantity), 0) AS n FROM usage_records WHERE account_id = ? AND meter = ? AND occurred_at >= ? AND occurred_at < ?')
        .get(accountId, meter, from, to) as { n: number }).n,
  };

  idempotency: MetadataStore['idempotency'] = {
    reserve: async (s: IdempotencyScope, requestHash, now) => {
      const inserted = this.run(
        `INSERT INTO idempotency_keys (account_id, method, route, key, request_hash, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        s.accountId, s.method, s.route, s.key, requestHash, now,
      );
      if ((inserted?.changes ?? 0) === 1) return null;
      return this.one<IdempotencyRecord>(
        'SELECT request_hash, status_code, response_body, created_at, completed_at FROM idempotency_keys WHERE account_id = ? AND method = ? AND route = ? AND key = ?',
        [s.accountId, s.method, s.route, s.key],
      );
    },
    complete: async (s, statusCode, responseBody, now) => {
      this.run(
        'UPDATE idempotency_keys SET status_code = ?, response_body = ?, completed_at = ? WHERE account_id = ? AND method = ? AND route = ? AND key = ?',
        statusCode, responseBody, now, s.accountId, s.method, s.route, s.key,
      );
    },
    release: async (s, createdAt) => {
      this.run(
        'DELETE FROM idempotency_keys WHERE account_id = ? AND method = ? AND route = ? AND key = ? AND (? IS NULL OR created_at = ?)',
        s.accountId, s.method, s.route, s.key, createdAt ?? null, createdAt ?? null,
      );
    },
    purge: async (before) => this.run('DELETE FROM idempotency_keys WHERE created_at < ?', before)?.changes ?? 0,
  };

  private static DUE_DELIVERY = `SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? AND (lease_expires_at IS NULL OR lease_expires_at <= ?)
             ORDER BY next_attempt_at, id LIMIT 1`;
  webhooks: MetadataStore['webhooks'] = {
    createEvent: async (event, first) =>
      this.c.immediate(() => {
        const created = this.c
          .stmt(
            `INSERT INTO webhook_events (id, account_id, deploy_id, render_job_id, type, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO NOTHING`,
          )
          .run(event.id, event.accountId, event.deployId, event.renderJobId, event.type, event.data, event.createdAt).changes === 1;
        if (created) this.insert('webhook_deliveries', { ...first });
        return created;
      }),
    getEvent: async (id) => this.one<WebhookEventRecord>('SELECT * FROM webhook_events WHERE id = ?', [id]),
    claimDue: async (now, owner, leaseUntil) => {
      // Usually nothing is due (the sender runs after every job): answer that from a plain read, without taking the
      // write lock; when something is, the transaction looks again.
      if (!this.c.stmt(SqliteStore.DUE_DELIVERY).get(now, now)) return null;
      return this.c.immediate(() => {
        const due = this.c.stmt(SqliteStore.DUE_DELIVERY).get(now, now) as { id: string } | undefined;
        if (!due) return null;
        const taken = this.c
          .stmt(
            `UPDATE webhook_deliveries SET lease_owner = ?, lease_expires_at = ?
             WHERE id = ? AND status = 'pending' AND (lease_expires_at IS NULL OR lease_expires_at <= ?)`,
          )
          .run(owner, leaseUntil, due.id, now).changes === 1;
        return taken ? this.one<WebhookDeliveryRecord>('SELECT * FROM webhook_deliveries WHERE id = ?', [due.id]) : null;
      });
    },
    complete: async (id, owner, r, next) =>
      this.c.immediate(() => {
        const done = this.c
          .stmt(
            `UPDATE webhook_deliveries SET status = ?, url = ?, response_status = ?, error = ?, delivered_at = ?, duration_ms = ?, next_attempt_at = ?,
               lease_owner = NULL, lease_expires_at = NULL
             WHERE id = ? AND status = 'pending' AND lease_owner = ?`,
          )
          .run(r.status, r.url, r.responseStatus, r.error, r.deliveredAt, r.durationMs, r.nextAttemptAt, id, owner).changes === 1;
        if (done && next) {
          this.c
            .stmt(
              `INSERT INTO webhook_deliveries (id, event_id, account_id, deploy_id, render_job_id, url, attempt, status, created_at, next_attempt_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (event_id, attempt) DO NOTHING`,
            )
            .run(next.id, next.eventId, next.accountId, next.deployId, next.renderJobId, next.url, next.attempt, next.createdAt, next.nextAttemptAt);
        }
        return done;
      }),
    list: async (accountId, deployId, page) =>
      this.page<WebhookDeliveryRecord>('SELECT * FROM webhook_deliveries WHERE account_id = ? AND deploy_id = ?', [accountId, deployId], page),
  };

  async ping() {
    this.c.stmt('SELECT 1').get();
  }

  async close() {
    if (this.db.open) this.db.close();
  }
}
