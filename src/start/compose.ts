import { hkdfSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { createOutbound } from '@press-cloud/engine';
import type { ChromiumRendererOptions } from '@press-cloud/engine';
import { FsBlobStore } from '../adapters/fs-blob/fs-blob-store.js';
import type { BlobStore } from '../ports/blob-store.js';
import { openSqlite } from '../adapters/sqlite/index.js';
import type { SqlDatabase } from '../adapters/sql/database.js';
import { systemClock, type Clock } from '../domain/clock.js';
import type { DomainDeps } from '../domain/context.js';
import { SecretBox } from '../domain/crypto.js';

/** The key an embedded store generated into `<dataDir>/secret.key`, or null when there is none. */
export function readSecretKeyFile(dataDir: string): Buffer | null {
  const file = join(dataDir, 'secret.key');
  return existsSync(file) ? Buffer.from(readFileSync(file, 'utf8').trim(), 'base64') : null;
}

/** The secrets-at-rest key: PRESS_SECRET_KEY, else generated once into <dataDir>/secret.key (mode 0600). */
export function loadSecretKey(config: Pick<Config, 'secretKey' | 'dataDir'>): Buffer {
  if (config.secretKey) return config.secretKey;
  const existing = readSecretKeyFile(config.dataDir);
  if (existing) return existing;
  const file = join(config.dataDir, 'secret.key');
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}

/** Blobs and outputs: the S3-compatible store when S3_BUCKET is set, else the local disk under the data dir. */
export async function createBlobStore(config: Config): Promise<BlobStore> {
  // Distributed adapters load only when configured: the AWS SDK and pg cost every embedded start a second otherwise.
  if (config.s3) {
    const { S3BlobStore } = await import('../adapters/s3/s3-blob-store.js');
    return new S3BlobStore(config.s3);
  }
  const fs = new FsBlobStore(join(config.dataDir, 'storage'));
  await fs.init();
  return fs;
}

/**
 * The database: PostgreSQL when DATABASE_URL is set (migrated under an advisory lock, so several nodes may start at
 * once), else SQLite under the data dir. Its `close()` closes either, the pg pool and LISTEN session included.
 */
export async function createDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir'>): Promise<SqlDatabase> {
  if (config.databaseUrl) {
    // loaded only when configured: pg costs every embedded start time otherwise
    const { openPostgres } = await import('../adapters/postgres/index.js');
    return openPostgres(config.databaseUrl);
  }
  return openSqlite(join(config.dataDir, 'press.db'));
}

async function createMailer(url: string, from: string) {
  // nodemailer loads only when SMTP is configured
  const { SmtpMailer } = await import('../adapters/smtp/smtp-mailer.js');
  return new SmtpMailer(url, from);
}

/** Composition root: the domain's ports on the configured backends (embedded by default). */
export async function createDomainDeps(config: Config, opts: { clock?: Clock } = {}): Promise<DomainDeps> {
  // the data dir holds the database, the secrets key and stored files: the server's user only
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const db = await createDatabase(config);
  const blobs = await createBlobStore(config);
  const secretKey = loadSecretKey(config);
  return {
    db,
    blobs,
    clock: opts.clock ?? systemClock,
    secretBox: new SecretBox(secretKey),
    mailer: config.smtpUrl ? await createMailer(config.smtpUrl, config.smtpFrom) : null,
    linkSigningKey: Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), 'press-cloud signed links v1', 32)),
    outbound: createOutbound(),
    settings: {
      defaultPlan: config.defaultPlan,
      webhookAllowPrivate: config.webhookAllowPrivate,
      publicUrl: config.publicUrl ?? `http://${config.host}:${config.port}`,
      transientOutputTtlMs: config.transientOutputTtlHours * 3_600_000,
      unlimitedPolicy: { maxRenderTimeoutMs: config.renderTimeoutMs, allowExternalNetwork: config.allowExternalNetwork },
      signedUrls: config.signedUrls,
      passwordHashCost: config.passwordHashCost,
      secureCookies: (config.publicUrl ?? '').startsWith('https:'),
    },
  };
}

/** The Chromium renderer's options from the configuration (the same inline and in the render process). */
export function chromiumOptions(config: Config, deps: Pick<DomainDeps, 'outbound'>): ChromiumRendererOptions {
  return {
    outbound: deps.outbound,
    capacity: config.renderConcurrency ?? undefined,
    recycleAfterRenders: config.browserRecycleAfter,
    memory: { pageBytes: config.pageMemoryBytes, browserBytes: config.browserMemoryBytes },
    env: config.chromiumPath ? { ...process.env, PRESS_CHROMIUM_PATH: config.chromiumPath } : process.env,
    sandbox: { mode: config.chromiumSandbox, user: config.chromiumSandboxUser },
    limits: { maxMemoryBytes: config.renderMemoryMib * 1024 * 1024 },
  };
}
