import type { Database } from '../../ports/database.js';
import { accountRepository, apiKeyRepository } from './accounts.js';
import { aliasRepository, deployRepository, deployVersionRepository } from './deploys.js';
import type { Dialect } from './dialect.js';
import type { SqlConnection } from './executor.js';
import { pdfRepository, SqlRenderJobs } from './render-jobs.js';
import { accountBlobRepository, uploadSessionRepository } from './uploads.js';
import { idempotencyRepository, usageRepository } from './usage.js';
import { webhookRepository } from './webhooks.js';

/** The Database port on any SQL connection: the repositories are the shared SQL; the dialect adds what differs. */
export class SqlDatabase implements Database {
  readonly accounts;
  readonly apiKeys;
  readonly deploys;
  readonly versions;
  readonly aliases;
  readonly uploads;
  readonly blobs;
  readonly usage;
  readonly idempotency;
  readonly webhooks;
  readonly renderJobs;
  readonly pdfs;

  constructor(
    /** the executor (tests and migrate-store read through it; the domain never does) */
    readonly sql: SqlConnection,
    readonly dialect: Dialect,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {
    this.accounts = accountRepository(sql);
    this.apiKeys = apiKeyRepository(sql);
    this.deploys = deployRepository(sql);
    this.versions = deployVersionRepository(sql);
    this.aliases = aliasRepository(sql);
    this.uploads = uploadSessionRepository(sql);
    this.blobs = accountBlobRepository(sql);
    this.usage = usageRepository(sql);
    this.idempotency = idempotencyRepository(sql);
    this.webhooks = webhookRepository(sql, dialect);
    this.renderJobs = new SqlRenderJobs(sql, dialect);
    this.pdfs = pdfRepository(sql);
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
