import { hkdfSync, randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { FsBlobStore } from '../adapters/fs-blob/fs-blob-store.js';
import { SqliteStore, openSqlite } from '../adapters/sqlite/sqlite-store.js';
import { SqliteQueue } from '../adapters/sqlite/sqlite-queue.js';
import { systemClock, type Clock } from '../domain/clock.js';
import type { DomainDeps } from '../domain/context.js';
import { SecretBox } from '../domain/crypto.js';

/** The secrets-at-rest key: PRESS_SECRET_KEY, else generated once into <dataDir>/secret.key (mode 0600). */
export function loadSecretKey(config: Pick<Config, 'secretKey' | 'dataDir'>): Buffer {
  if (config.secretKey) return config.secretKey;
  const file = join(config.dataDir, 'secret.key');
  if (existsSync(file)) return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  mkdirSync(config.dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}

export async function resolveHost(host: string): Promise<string[]> {
  return (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
}

/** Composition root of the embedded mode: SQLite for metadata, the local disk for blobs. */
export async function createDomainDeps(config: Config, opts: { clock?: Clock } = {}): Promise<DomainDeps> {
  const db = openSqlite(join(config.dataDir, 'press.db'));
  const blobs = new FsBlobStore(join(config.dataDir, 'storage'));
  await blobs.init();
  const secretKey = loadSecretKey(config);
  return {
    store: new SqliteStore(db),
    blobs,
    queue: new SqliteQueue(db),
    clock: opts.clock ?? systemClock,
    secretBox: new SecretBox(secretKey),
    linkSigningKey: Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), 'press-cloud signed links v1', 32)),
    resolveHost,
    settings: {
      defaultPlan: config.defaultPlan,
      webhookAllowPrivate: config.webhookAllowPrivate,
      publicUrl: config.publicUrl ?? `http://${config.host}:${config.port}`,
      transientOutputTtlMs: config.transientOutputTtlHours * 3_600_000,
      unlimitedPolicy: { maxRenderTimeoutMs: config.renderTimeoutMs, allowExternalNetwork: config.allowExternalNetwork },
    },
  };
}
