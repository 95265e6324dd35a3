import { ConflictError } from '../../domain/errors.js';
import type {
  AccountRecord, AliasRecord, ApiKeyRecord, DeployRecord, DeployVar, DeployVersionRecord, FileEntry,
  IdempotencyRecord, IdempotencyScope, MetadataStore, UploadSessionRecord, WebhookDeliveryRecord, WebhookEventRecord,
} from '../../ports/metadata-store.js';
import type { PgDatabase, Queryable } from './pg-database.js';
import { afterClause, camel, camelAll, insertSql, Params, snake } from './rows.js';

const UPSERT_ALIAS =
  'INSERT INTO aliases (deploy_id, name, deploy_version_id, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (deploy_id, name) DO UPDATE SET deploy_version_id = excluded.deploy_version_id, updated_at = excluded.updated_at';
const IDEMPOTENCY_KEY = 'account_id = $1 AND method = $2 AND route = $3 AND key = $4';

/**
 * The metadata store on PostgreSQL: the same tables and semantics as SqliteStore. Each port method is one statement
 * or one transaction; concurrency between nodes rests on constraints and conditional updates, never on process locks.
 */
export class PgStore implements MetadataStore {
  constructor(readonly db: PgDatabase) {}

  private async one<T>(sql: string, params: unknown[], c: Queryable = this.db): Promise<T | null> {
    const { rows } = await c.query(sql, params);
    return camel<T>(rows[0] as Record<string, unknown> | undefined);
  }
  private async all<T>(sql: string, params: unknown[], c: Queryable = this.db): Promise<T[]> {
    const { rows } = await c.query(sql, params);
    return camelAll<T>(rows as Record<string, unknown>[]);
  }
  /** affected row count */
  private async run(sql: string, params: unknown[], c: Queryable = this.db): Promise<number> {
    return (await c.query(sql, params)).rowCount ?? 0;
  }
  private async insert(table: string, row: object, c: Queryable = this.db): Promise<void> {
    const { sql, params } = insertSql(table, row as Record<string, unknown>);
    await c.query(sql, params);
  }
  private async patch(table: string, where: (q: Params) => string, patch: Record<string, unknown>): Promise<void> {
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return;
    const q = new Params();
    const set = entries.map(([k, v]) => `${snake(k)} = ${q.p(v)}`).join(', ');
    await this.db.query(`UPDATE ${table} SET ${set} WHERE ${where(q)}`, q.values);
  }
  private async page<T>(sql: (q: Params) => string, page: { limit: number; after?: { createdAt: number; id: string } }): Promise<T[]> {
    const q = new Params();
    const base = sql(q);
    const after = afterClause(q, page.after);
    return this.all<T>(`${base}${after} ORDER BY created_at DESC, id DESC LIMIT ${q.p(page.limit + 1)}`, q.values);
  }

  accounts: MetadataStore['accounts'] = {
    create: async (a) => this.insert('accounts', { ...a }),
    get: async (id) => this.one<AccountRecord>('SELECT * FROM accounts WHERE id = $1', [id]),
    getByName: async (name) => this.one<AccountRecord>('SELECT * FROM accounts WHERE name = $1', [name]),
    count: async () => (await this.one<{ n: number }>('SELECT count(*) AS n FROM accounts', []))!.n,
    update: async (id, patch) => this.patch('accounts', (q) => `id = ${q.p(id)}`, patch),
  };

  apiKeys: MetadataStore['apiKeys'] = {
    create: async (k) => this.insert('api_keys', { ...k }),
    getByHash: async (h) => this.one<ApiKeyRecord>('SELECT * FROM api_keys WHERE key_hash = $1', [h]),
    get: async (accountId, id) => this.one<ApiKeyRecord>('SELECT * FROM api_keys WHERE account_id = $1 AND id = $2', [accountId, id]),
    list: async (accountId, page) => this.page<ApiKeyRecord>((q) => `SELECT * FROM api_keys WHERE account_id = ${q.p(accountId)}`, page),
    disable: async (accountId, id, at) => {
      await this.run('UPDATE api_keys SET disabled_at = coalesce(disabled_at, $1) WHERE account_id = $2 AND id = $3', [at, accountId, id]);
    },
    touch: async (id, at) => {
      await this.run('UPDATE api_keys SET last_used_at = $1 WHERE id = $2', [at, id]);
    },
  };

  deploys: MetadataStore['deploys'] = {
    create: async (d) => this.insert('deploys', { ...d }),
    get: async (accountId, id) => this.one<DeployRecord>('SELECT * FROM deploys WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL', [accountId, id]),
    list: async (accountId, page) =>
      this.page<DeployRecord>((q) => `SELECT * FROM deploys WHERE account_id = ${q.p(accountId)} AND deleted_at IS NULL`, page),
    update: async (accountId, id, patch) =>
      this.patch('deploys', (q) => `account_id = ${q.p(accountId)} AND id = ${q.p(id)} AND deleted_at IS NULL`, patch),
    markDeleted: async (accountId, id, at) => {
      await this.db.tx(async (c) => {
        await this.run('UPDATE deploys SET deleted_at = $1 WHERE account_id = $2 AND id = $3 AND deleted_at IS NULL', [at, accountId, id], c);
        await this.run('DELETE FROM aliases WHERE deploy_id = $1', [id], c);
        await this.run('DELETE FROM deploy_vars WHERE deploy_id = $1', [id], c);
        await this.run(`UPDATE upload_sessions SET status = 'expired' WHERE deploy_id = $1 AND status = 'open'`, [id], c);
      });
    },
    listVars: async (deployId) => this.all<DeployVar>('SELECT kind, name, value FROM deploy_vars WHERE deploy_id = $1 ORDER BY kind, name', [deployId]),
    writeVars: async (deployId, changes) => {
      if (changes.length === 0) return;
      await this.db.tx(async (c) => {
        for (const ch of changes) {
          if (ch.value === null) await this.run('DELETE FROM deploy_vars WHERE deploy_id = $1 AND kind = $2 AND name = $3', [deployId, ch.kind, ch.name], c);
          else {
            await this.run(
              'INSERT INTO deploy_vars (deploy_id, kind, name, value) VALUES ($1, $2, $3, $4) ON CONFLICT (deploy_id, kind, name) DO UPDATE SET value = excluded.value',
              [deployId, ch.kind, ch.name, ch.value], c,
            );
          }
        }
      });
    },
  };

  versions: MetadataStore['versions'] = {
    get: async (deployId, id) => this.one<DeployVersionRecord>('SELECT * FROM deploy_versions WHERE deploy_id = $1 AND id = $2', [deployId, id]),
    latest: async (deployId) =>
      this.one<DeployVersionRecord>('SELECT * FROM deploy_versions WHERE deploy_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1', [deployId]),
    list: async (deployId, page) => this.page<DeployVersionRecord>((q) => `SELECT * FROM deploy_versions WHERE deploy_id = ${q.p(deployId)}`, page),
    listFiles: async (versionId, opts) =>
      opts.afterPath !== undefined
        ? this.all<FileEntry>(
            'SELECT path, sha256, size, mime FROM deploy_version_files WHERE deploy_version_id = $1 AND path > $2 ORDER BY path LIMIT $3',
            [versionId, opts.afterPath, opts.limit + 1],
          )
        : this.all<FileEntry>('SELECT path, sha256, size, mime FROM deploy_version_files WHERE deploy_version_id = $1 ORDER BY path LIMIT $2', [versionId, opts.limit + 1]),
    getFile: async (versionId, path) =>
      this.one<FileEntry>('SELECT path, sha256, size, mime FROM deploy_version_files WHERE deploy_version_id = $1 AND path = $2', [versionId, path]),
  };

  aliases: MetadataStore['aliases'] = {
    get: async (deployId, name) => this.one<AliasRecord>('SELECT * FROM aliases WHERE deploy_id = $1 AND name = $2', [deployId, name]),
    list: async (deployId) => this.all<AliasRecord>('SELECT * FROM aliases WHERE deploy_id = $1 ORDER BY name', [deployId]),
    put: async (a) => {
      await this.run(UPSERT_ALIAS, [a.deployId, a.name, a.deployVersionId, a.updatedAt]);
    },
    delete: async (deployId, name) => (await this.run('DELETE FROM aliases WHERE deploy_id = $1 AND name = $2', [deployId, name])) > 0,
  };

  uploads: MetadataStore['uploads'] = {
    create: async (s, files) => {
      await this.db.tx(async (c) => {
        await this.insert('upload_sessions', { ...s }, c);
        if (files.length > 0) {
          // one statement for the whole manifest (thousands of files) instead of a round trip per file
          await c.query(
            `INSERT INTO upload_session_files (upload_session_id, path, sha256, size, mime)
             SELECT $1::text, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[])`,
            [s.id, files.map((f) => f.path), files.map((f) => f.sha256), files.map((f) => f.size), files.map((f) => f.mime)],
          );
        }
      });
    },
    get: async (accountId, id) => this.one<UploadSessionRecord>('SELECT * FROM upload_sessions WHERE account_id = $1 AND id = $2', [accountId, id]),
    files: async (sessionId) =>
      this.all<FileEntry>('SELECT path, sha256, size, mime FROM upload_session_files WHERE upload_session_id = $1 ORDER BY path', [sessionId]),
    missingBlobs: async (accountId, sessionId) =>
      this.all<{ sha256: string; size: number }>(
        `SELECT f.sha256, max(f.size) AS size FROM upload_session_files f
         WHERE f.upload_session_id = $1 AND NOT EXISTS (SELECT 1 FROM account_blobs b WHERE b.account_id = $2 AND b.sha256 = f.sha256)
         GROUP BY f.sha256 ORDER BY f.sha256`,
        [sessionId, accountId],
      ),
    presentBlobStats: async (accountId, sessionId) =>
      (await this.one<{ count: number; bytes: number }>(
        `SELECT count(*) AS count, coalesce(sum(b.size), 0) AS bytes FROM account_blobs b
         WHERE b.account_id = $1 AND b.sha256 IN (SELECT sha256 FROM upload_session_files WHERE upload_session_id = $2)`,
        [accountId, sessionId],
      ))!,
    tryLockCommit: async (sessionId, now, until) =>
      (await this.run(
        `UPDATE upload_sessions SET commit_lock_until = $1 WHERE id = $2 AND status = 'open' AND (commit_lock_until IS NULL OR commit_lock_until <= $3)`,
        [until, sessionId, now],
      )) === 1,
    releaseCommitLock: async (sessionId) => {
      await this.run('UPDATE upload_sessions SET commit_lock_until = NULL WHERE id = $1', [sessionId]);
    },
    commit: async ({ session, version, aliases, now }) => {
      await this.db.tx(async (c) => {
        const changed = await this.run(
          `UPDATE upload_sessions SET status = 'committed', committed_at = $1, commit_lock_until = NULL, deploy_version_id = $2 WHERE id = $3 AND status = 'open'`,
          [now, version.id, session.id], c,
        );
        if (changed !== 1) throw new ConflictError('upload_sessions.status');
        await this.insert('deploy_versions', { ...version }, c);
        await this.run(
          `INSERT INTO deploy_version_files (deploy_version_id, path, sha256, size, mime)
           SELECT $1, path, sha256, size, mime FROM upload_session_files WHERE upload_session_id = $2`,
          [version.id, session.id], c,
        );
        for (const name of aliases) await this.run(UPSERT_ALIAS, [version.deployId, name, version.id, now], c);
        await this.run(`INSERT INTO usage_records (account_id, meter, quantity, occurred_at) VALUES ($1, 'deploy_commits', 1, $2)`, [session.accountId, now], c);
      });
    },
    expire: async (now) =>
      this.run(`UPDATE upload_sessions SET status = 'expired', commit_lock_until = NULL WHERE status = 'open' AND expires_at <= $1`, [now]),
  };

  blobs: MetadataStore['blobs'] = {
    recordAccountBlob: async (accountId, sha256, size, at) => {
      await this.run('INSERT INTO account_blobs (account_id, sha256, size, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [accountId, sha256, size, at]);
    },
    hasAccountBlob: async (accountId, sha256) => (await this.run('SELECT 1 FROM account_blobs WHERE account_id = $1 AND sha256 = $2', [accountId, sha256])) > 0,
    accountBlobBytes: async (accountId) =>
      (await this.one<{ n: number }>('SELECT coalesce(sum(size), 0) AS n FROM account_blobs WHERE account_id = $1', [accountId]))!.n,
    dropUnreferencedAccountBlobs: async () =>
      this.run(
        `DELETE FROM account_blobs WHERE NOT EXISTS (
           SELECT 1 FROM deploy_version_files f JOIN deploy_versions v ON v.id = f.deploy_version_id JOIN deploys d ON d.id = v.deploy_id
           WHERE f.sha256 = account_blobs.sha256 AND v.account_id = account_blobs.account_id AND d.deleted_at IS NULL
         ) AND NOT EXISTS (
           SELECT 1 FROM upload_session_files f JOIN upload_sessions s ON s.id = f.upload_session_id
           WHERE f.sha256 = account_blobs.sha256 AND s.account_id = account_blobs.account_id AND s.status = 'open'
         )`,
        [],
      ),
    isHeld: async (sha256) => (await this.run('SELECT 1 FROM account_blobs WHERE sha256 = $1 LIMIT 1', [sha256])) > 0,
  };

  usage: MetadataStore['usage'] = {
    record: async (accountId, meter, quantity, at) => {
      await this.run('INSERT INTO usage_records (account_id, meter, quantity, occurred_at) VALUES ($1, $2, $3, $4)', [accountId, meter, quantity, at]);
    },
    total: async (accountId, meter, from, to) =>
      (await this.one<{ n: number }>(
        'SELECT coalesce(sum(quantity), 0) AS n FROM usage_records WHERE account_id = $1 AND meter = $2 AND occurred_at >= $3 AND occurred_at < $4',
        [accountId, meter, from, to],
      ))!.n,
  };

  idempotency: MetadataStore['idempotency'] = {
    reserve: async (s: IdempotencyScope, requestHash, now) => {
      const scope = [s.accountId, s.method, s.route, s.key];
      // The existing row may be released between our INSERT and SELECT (its request failed): then try again, so a
      // null answer always means this call holds the key.
      for (;;) {
        const inserted = await this.run(
          `INSERT INTO idempotency_keys (account_id, method, route, key, request_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT DO NOTHING RETURNING 1`,
          [...scope, requestHash, now],
        );
        if (inserted === 1) return null;
        const existing = await this.one<IdempotencyRecord>(
          `SELECT request_hash, status_code, response_body, created_at, completed_at FROM idempotency_keys WHERE ${IDEMPOTENCY_KEY}`,
          scope,
        );
        if (existing) return existing;
      }
    },
    complete: async (s, statusCode, responseBody, now) => {
      await this.run(
        `UPDATE idempotency_keys SET status_code = $5, response_body = $6, completed_at = $7 WHERE ${IDEMPOTENCY_KEY}`,
        [s.accountId, s.method, s.route, s.key, statusCode, responseBody, now],
      );
    },
    release: async (s, createdAt) => {
      await this.run(`DELETE FROM idempotency_keys WHERE ${IDEMPOTENCY_KEY} AND ($5::bigint IS NULL OR created_at = $5)`, [s.accountId, s.method, s.route, s.key, createdAt ?? null]);
    },
    purge: async (before) => this.run('DELETE FROM idempotency_keys WHERE created_at < $1', [before]),
  };

  webhooks: MetadataStore['webhooks'] = {
    createEvent: async (event, first) =>
      this.db.tx(async (c) => {
        const created = await this.run(
          `INSERT INTO webhook_events (id, account_id, deploy_id, render_job_id, type, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (id) DO NOTHING`,
          [event.id, event.accountId, event.deployId, event.renderJobId, event.type, event.data, event.createdAt], c,
        );
        if (created === 1) await this.insert('webhook_deliveries', { ...first }, c);
        return created === 1;
      }),
    getEvent: async (id) => this.one<WebhookEventRecord>('SELECT * FROM webhook_events WHERE id = $1', [id]),
    // One statement: SKIP LOCKED lets several senders claim different deliveries at once without waiting.
    claimDue: async (now, owner, leaseUntil) =>
      this.one<WebhookDeliveryRecord>(
        `UPDATE webhook_deliveries SET lease_owner = $1, lease_expires_at = $2
         WHERE id = (
           SELECT id FROM webhook_deliveries
           WHERE status = 'pending' AND next_attempt_at <= $3 AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
           ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED
         ) AND status = 'pending' AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
         RETURNING *`,
        [owner, leaseUntil, now],
      ),
    complete: async (id, owner, r, next) =>
      this.db.tx(async (c) => {
        const done = (await this.run(
          `UPDATE webhook_deliveries SET status = $1, url = $2, response_status = $3, error = $4, delivered_at = $5, duration_ms = $6, next_attempt_at = $7,
             lease_owner = NULL, lease_expires_at = NULL
           WHERE id = $8 AND status = 'pending' AND lease_owner = $9`,
          [r.status, r.url, r.responseStatus, r.error, r.deliveredAt, r.durationMs, r.nextAttemptAt, id, owner], c,
        )) === 1;
        if (done && next) {
          await this.run(
            `INSERT INTO webhook_deliveries (id, event_id, account_id, deploy_id, render_job_id, url, attempt, status, created_at, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9) ON CONFLICT (event_id, attempt) DO NOTHING`,
            [next.id, next.eventId, next.accountId, next.deployId, next.renderJobId, next.url, next.attempt, next.createdAt, next.nextAttemptAt], c,
          );
        }
        return done;
      }),
    list: async (accountId, deployId, page) =>
      this.page<WebhookDeliveryRecord>((q) => `SELECT * FROM webhook_deliveries WHERE account_id = ${q.p(accountId)} AND deploy_id = ${q.p(deployId)}`, page),
  };

  async ping() {
    await this.db.query('SELECT 1');
  }

  /** closes the shared database: the pool and the LISTEN connection the queue uses too */
  async close() {
    await this.db.close();
  }
}
