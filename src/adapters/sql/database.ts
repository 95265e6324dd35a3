import type { Database, Transactional } from '../../ports/database.js';
import { accountRepository, apiKeyRepository } from './accounts.js';
import { aliasRepository, deployRepository, deployVersionRepository } from './deploys.js';
import type { Dialect } from './dialect.js';
import type { SqlConnection, SqlExecutor } from './executor.js';
import { auditLogRepository, invitationRepository, loginFailureRepository, membershipRepository, sessionRepository, setupTokenRepository, userRepository } from './people.js';
import { pdfRepository, SqlRenderJobs } from './render-jobs.js';
import { accountBlobRepository, uploadSessionRepository } from './uploads.js';
import { idempotencyRepository, usageRepository } from './usage.js';
import { webhookRepository } from './webhooks.js';

/** Every repository but the render queue on one executor: the connection's own, or a transaction's. */
function repositories(x: SqlExecutor, dialect: Dialect): Transactional {
  return {
    accounts: accountRepository(x, dialect),
    apiKeys: apiKeyRepository(x),
    deploys: deployRepository(x, dialect),
    versions: deployVersionRepository(x),
    aliases: aliasRepository(x),
    uploads: uploadSessionRepository(x, dialect),
    blobs: accountBlobRepository(x),
    usage: usageRepository(x),
    idempotency: idempotencyRepository(x),
    webhooks: webhookRepository(x, dialect),
    pdfs: pdfRepository(x),
    users: userRepository(x),
    sessions: sessionRepository(x),
    setupTokens: setupTokenRepository(x),
    memberships: membershipRepository(x),
    invitations: invitationRepository(x),
    audit: auditLogRepository(x),
    loginFailures: loginFailureRepository(x),
  };
}

/** The Database port on any SQL connection: the repositories are the shared SQL; the dialect adds what differs. */
export interface SqlDatabase extends Transactional {}
export class SqlDatabase implements Database {
  readonly renderJobs;

  constructor(
    /** the executor (tests and migrate-store read through it; the domain never does) */
    readonly sql: SqlConnection,
    readonly dialect: Dialect,
    readonly description: string,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {
    Object.assign(this, repositories(sql, dialect));
    this.renderJobs = new SqlRenderJobs(sql, dialect);
  }

  transaction<T>(fn: (tx: Transactional) => Promise<T>): Promise<T> {
    return this.sql.tx((x) => fn(repositories(x, this.dialect)));
  }

  async ping() {
    await this.sql.one('SELECT 1 AS n');
  }

  private closing: Promise<void> | null = null;
  close() {
    this.closing ??= (async () => {
      await this.onClose();
      await this.sql.close();
    })();
    return this.closing;
  }
}
