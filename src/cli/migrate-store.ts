/**
 * `press-cloud migrate-store`: copies an embedded installation (SQLite + blobs on disk, in a data directory) into the
 * distributed configuration (PostgreSQL from DATABASE_URL + the S3-compatible store from S3_*).
 *
 * Order: blobs first (each verified: content-addressed blobs against the hash in their key, every object against the
 * sha256 and size read from the source, checked again by the target's put before the object becomes visible), then
 * every table in dependency order, in batches, one transaction per batch. Safe to re-run: rows are upserted by
 * primary key (the source wins), objects already in the bucket with the right size are skipped, and the append-only
 * usage ledger is topped up to the source's multiplicity of each row, never duplicated (its per-period totals are the
 * target's own trigger's work, not copied). So an operator can copy
 * while the embedded server still runs and run it again, for the delta, once the server is stopped.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { FsBlobStore } from '../adapters/fs-blob/fs-blob-store.js';
import { encodeValue, TABLES as CATALOGUE, type Table } from '../adapters/sql/catalogue.js';
import type { Row, SqlExecutor } from '../adapters/sql/executor.js';
import { SecretBox } from '../domain/crypto.js';
import type { BlobStore } from '../ports/blob-store.js';
import { createBlobStore, createDatabase, readSecretKeyFile } from '../start/compose.js';

/**
 * The catalogue's tables, parents before children (foreign keys), so every batch commits on its own. A derived table
 * (usage_totals) is not copied: the target's trigger builds it from the rows copied into its source table.
 */
const COPIED = CATALOGUE.filter((t) => !t.derived);
export const TABLES = COPIED.map((t) => t.name);

/** Objects live under these prefixes of the blob store; `tmp/` (uploads in progress) is never copied. */
const OBJECT_PREFIXES = ['blobs', 'outputs', 'pdfs'] as const;

/** A migration refused or impossible as asked (the CLI prints the message and exits 2). */
export class MigrateStoreError extends Error {
  override name = 'MigrateStoreError';
}

export interface MigrateStoreOptions {
  /** the embedded data directory (press.db, storage/, secret.key) */
  fromDataDir: string;
  /** copy even though the target already holds accounts the source does not have */
  force?: boolean;
  /** rows per INSERT/transaction */
  batchSize?: number;
  /** objects copied at once */
  concurrency?: number;
  /** check and count only; write nothing */
  dryRun?: boolean;
  log?: (line: string) => void;
}

export interface TableCount {
  table: string;
  /** rows in the source */
  source: number;
  /** rows the target did not have yet */
  inserted: number;
  /** rows the target had (same primary key), overwritten with the source's values */
  updated: number;
  /** rows in the target afterwards */
  target: number;
}

export interface MigrateStoreReport {
  tables: TableCount[];
  objects: { source: number; bytes: number; copied: number; copiedBytes: number; skipped: number };
  accounts: number;
  ms: number;
}

/** The DATABASE_URL without its password, for output. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

async function sha256Of(stream: Readable): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}

/** Runs `fn` over `items` with at most `limit` in flight; the first failure stops new work and rejects. */
async function pool<T>(items: AsyncIterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const inflight = new Set<Promise<void>>();
  let failed: unknown = null;
  for await (const item of items) {
    if (failed) break;
    const p: Promise<void> = fn(item).catch((err) => void (failed ??= err)).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= limit) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  if (failed) throw failed;
}

/** Copies every object of the source store that the target lacks, verifying each one's hash and size. */
async function copyObjects(source: BlobStore, target: BlobStore, opts: { concurrency: number; dryRun: boolean; log: (l: string) => void }) {
  const r = { source: 0, bytes: 0, copied: 0, copiedBytes: 0, skipped: 0 };
  let lastReport = Date.now();
  const keys = async function* () {
    for (const prefix of OBJECT_PREFIXES) for await (const o of source.list(prefix)) yield o.key;
  };
  await pool(keys(), opts.concurrency, async (key) => {
    const st = await source.stat(key);
    if (!st) return; // deleted meanwhile (the embedded server is still running)
    r.source++;
    r.bytes += st.size;
    const there = await target.stat(key);
    if (there && there.size === st.size) {
      r.skipped++;
      return;
    }
    const first = await source.get(key);
    if (!first) return;
    const { sha256, size } = await sha256Of(first);
    const named = /^blobs\/.*\/([0-9a-f]{64})$/.exec(key)?.[1];
    if (named && named !== sha256) {
      throw new MigrateStoreError(`source blob ${key} is corrupt: its content hashes to ${sha256}; restore it from a backup, then run again`);
    }
    if (opts.dryRun) {
      r.copied++;
      r.copiedBytes += size;
      return;
    }
    const second = await source.get(key);
    if (!second) return;
    // the target rejects (and keeps nothing) if the bytes it receives differ from the bytes hashed above
    await target.put(key, second, { expectedSha256: sha256, expectedSize: size });
    r.copied++;
    r.copiedBytes += size;
    if (Date.now() - lastReport > 5000) {
      lastReport = Date.now();
      opts.log(`  … objects: ${r.copied} copied, ${r.skipped} already there`);
    }
  });
  return r;
}

/** The source's columns must be the catalogue's: a column the catalogue lacks would be dropped without a word. */
async function columnsOf(source: SqlExecutor, t: Table): Promise<string[]> {
  const cols = [...t.columnField.keys()];
  const have = (await source.all(`PRAGMA table_info(${t.name})`)).map((c) => c.name as string);
  const unknown = have.filter((c) => !cols.includes(c));
  if (unknown.length) throw new MigrateStoreError(`the source table ${t.name} has column(s) ${unknown.join(', ')} this version does not know: run this command from the same Press Cloud version as the data`);
  return cols;
}

async function copyTable(source: SqlExecutor, target: SqlExecutor, t: Table, batchSize: number, dryRun: boolean): Promise<TableCount> {
  const cols = await columnsOf(source, t);
  const table = t.name;
  const count = async (x: SqlExecutor) => Number((await x.one(`SELECT count(*) AS n FROM ${table}`))!.n);
  const rowsInSource = await count(source);
  let inserted = 0;
  let updated = 0;
  if (!dryRun && t.primaryKey.length === 0) {
    inserted = await topUpLedger(source, target, t, cols, batchSize);
    updated = rowsInSource - inserted;
  } else if (!dryRun) {
    const rest = cols.filter((c) => !t.primaryKey.includes(c));
    const onConflict = rest.length ? `DO UPDATE SET ${rest.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}` : 'DO NOTHING';
    const tuple = `(${cols.map(() => '?').join(', ')})`;
    let after = Number.MIN_SAFE_INTEGER;
    for (;;) {
      const rows = await source.all(`SELECT rowid AS _rowid, * FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT ?`, [after, batchSize]);
      if (rows.length === 0) break;
      after = rows[rows.length - 1]._rowid as number;
      // xmax = 0 on a RETURNING row: it was inserted, not updated
      const res = await target.all(
        `INSERT INTO ${table} AS t (${cols.join(', ')}) VALUES ${rows.map(() => tuple).join(', ')}
         ON CONFLICT (${t.primaryKey.join(', ')}) ${onConflict} RETURNING (t.xmax = 0) AS inserted`,
        rows.flatMap((r) => cols.map((c) => encodeValue(r[c]))),
      );
      const fresh = res.filter((r) => r.inserted).length;
      inserted += fresh;
      updated += rows.length - fresh;
    }
  }
  return { table, source: rowsInSource, inserted, updated, target: await count(target) };
}

/**
 * A keyless table (usage_records: an append-only ledger; identical rows are legitimate, two jobs in one millisecond).
 * Per distinct row, the target gets as many copies as the source holds minus those it already has: re-runs add nothing.
 */
async function topUpLedger(source: SqlExecutor, target: SqlExecutor, t: Table, cols: string[], batchSize: number): Promise<number> {
  const key = (r: Row) => JSON.stringify(cols.map((c) => r[c]));
  const grouped = `SELECT ${cols.join(', ')}, count(*) AS n FROM ${t.name} GROUP BY ${cols.join(', ')}`;
  const have = new Map<string, number>();
  for (const r of await target.all(grouped)) have.set(key(r), Number(r.n));
  let pending: Row[] = [];
  let written = 0;
  const tuple = `(${cols.map(() => '?').join(', ')})`;
  const flush = async () => {
    if (pending.length === 0) return;
    await target.run(`INSERT INTO ${t.name} (${cols.join(', ')}) VALUES ${pending.map(() => tuple).join(', ')}`, pending.flatMap((r) => cols.map((c) => r[c])));
    written += pending.length;
    pending = [];
  };
  for (const r of await source.all(grouped)) {
    const need = Number(r.n) - (have.get(key(r)) ?? 0);
    for (let i = 0; i < need; i++) {
      pending.push(r);
      if (pending.length >= batchSize) await flush();
    }
  }
  await flush();
  return written;
}

/** Copies the embedded store in `opts.fromDataDir` into the distributed store `config` points at. */
export async function migrateStore(config: Config, opts: MigrateStoreOptions): Promise<MigrateStoreReport> {
  const t0 = Date.now();
  const log = opts.log ?? (() => {});
  const batchSize = opts.batchSize ?? 500;
  const dryRun = opts.dryRun ?? false;
  if (!config.databaseUrl) throw new MigrateStoreError('DATABASE_URL is not set: point it at the target PostgreSQL database (postgres://…).');
  if (!config.s3) throw new MigrateStoreError('S3_BUCKET is not set: point S3_* at the target object store (S3_BUCKET, S3_ENDPOINT, credentials).');
  if (!config.secretKey) throw new MigrateStoreError('PRESS_SECRET_KEY is not set: every distributed node needs it (use the embedded store\'s <data dir>/secret.key).');
  const dbFile = join(opts.fromDataDir, 'press.db');
  if (!existsSync(dbFile)) throw new MigrateStoreError(`no embedded store at ${opts.fromDataDir} (no press.db there); pass --from-data-dir or set PRESS_DATA_DIR`);

  // the key the embedded server generated, if it ran without PRESS_SECRET_KEY
  const fileKey = readSecretKeyFile(opts.fromDataDir);
  if (fileKey && !fileKey.equals(config.secretKey)) {
    throw new MigrateStoreError(
      `PRESS_SECRET_KEY differs from the embedded store's key (${join(opts.fromDataDir, 'secret.key')}). Encrypted secrets and signed ` +
      `links need the same key: set PRESS_SECRET_KEY=$(cat ${join(opts.fromDataDir, 'secret.key')}) here and on every node.`,
    );
  }

  // applies pending migrations to the source as the server would at start, so its columns match this version's
  const db = await createDatabase({ databaseUrl: null, dataDir: opts.fromDataDir });
  let pg: Awaited<ReturnType<typeof createDatabase>> | null = null;
  try {
    // the key must open what the source encrypted (this catches a source that ran with another PRESS_SECRET_KEY)
    const box = new SecretBox(config.secretKey);
    const sample = (await db.sql.one('SELECT id, webhook_signing_secret AS s FROM accounts ORDER BY id LIMIT 1')) as { id: string; s: string } | undefined;
    if (sample) {
      try {
        box.decrypt(sample.s);
      } catch {
        throw new MigrateStoreError(`PRESS_SECRET_KEY cannot decrypt the secrets of account ${sample.id}: use the key the embedded server ran with.`);
      }
    }
    const sourceRows = (await db.sql.all('SELECT id, name FROM accounts')) as { id: string; name: string }[];
    const sourceAccounts = new Set(sourceRows.map((r) => r.id));

    pg = await createDatabase(config);
    const targetAccounts = (await pg.sql.all('SELECT id, name FROM accounts ORDER BY id')) as { id: string; name: string }[];
    const others = targetAccounts.filter((a) => !sourceAccounts.has(a.id));
    if (others.length && !opts.force) {
      throw new MigrateStoreError(
        `the target database already holds ${others.length} account(s) that are not in the embedded store ` +
        `(${others.slice(0, 5).map((a) => `${a.name} ${a.id}`).join(', ')}${others.length > 5 ? ', …' : ''}). ` +
        `Migrate into an empty database (start no distributed node before migrating: the first one creates a "default" account), or pass --force to merge.`,
      );
    }

    // account names are unique: a merge (--force) cannot take an account whose name the target gives another id
    const clash = others.filter((a) => sourceRows.some((r) => r.name === a.name));
    if (clash.length) {
      throw new MigrateStoreError(
        `account name(s) ${clash.map((a) => `"${a.name}"`).join(', ')} exist in both stores with different ids; rename one side ` +
        `(or migrate into an empty database) first.`,
      );
    }

    const source = new FsBlobStore(join(opts.fromDataDir, 'storage'));
    const target = await createBlobStore(config);
    log(`${dryRun ? 'checking' : 'copying'} ${opts.fromDataDir} (SQLite + disk) → ${redactUrl(config.databaseUrl)} + ${target.description}`);
    const objects = await copyObjects(source, target, { concurrency: opts.concurrency ?? 4, dryRun, log });
    log(`objects: ${objects.source} in the source (${(objects.bytes / 1e6).toFixed(1)} MB): ${objects.copied} ${dryRun ? 'to copy (hashes checked)' : 'copied and verified'} (${(objects.copiedBytes / 1e6).toFixed(1)} MB), ${objects.skipped} already there`);

    const tables: TableCount[] = [];
    for (const table of COPIED) {
      const c = await copyTable(db.sql, pg.sql, table, batchSize, dryRun);
      tables.push(c);
      log(`${table.name.padEnd(22)} ${String(c.source).padStart(8)} in the source: ${String(c.inserted).padStart(8)} new, ${String(c.updated).padStart(8)} already there; ${String(c.target).padStart(8)} in the target`);
    }
    return { tables, objects, accounts: sourceAccounts.size, ms: Date.now() - t0 };
  } finally {
    await db.close();
    await pg?.close();
  }
}

export const MIGRATE_STORE_HELP = `press-cloud migrate-store — copy the embedded store (SQLite + disk) into PostgreSQL + S3

Usage:
  press-cloud migrate-store [--from-data-dir <dir>] [--force] [--dry-run] [--batch-size 500] [--concurrency 4]

Reads <dir>/press.db and <dir>/storage (default: PRESS_DATA_DIR, ./.press-data) and writes to DATABASE_URL and the
bucket of S3_BUCKET (S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_FORCE_PATH_STYLE, S3_PREFIX).
PRESS_SECRET_KEY must be the embedded store's key (the content of <dir>/secret.key). Safe to run again: rows are
upserted, objects already copied are skipped. Refuses a target holding other accounts unless --force.`;

/** The CLI entry (press-cloud migrate-store …): prints progress and counts; exit code 2 on a refused migration. */
export async function migrateStoreCommand(args: string[], loadConfig: () => Config): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'from-data-dir': { type: 'string' },
      force: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      'batch-size': { type: 'string', default: '500' },
      concurrency: { type: 'string', default: '4' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${MIGRATE_STORE_HELP}\n`);
    return;
  }
  const positive = (name: string, raw: string, max: number) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new MigrateStoreError(`--${name} must be an integer from 1 to ${max}.`);
    return n;
  };
  const batchSize = positive('batch-size', values['batch-size']!, 5000);
  const concurrency = positive('concurrency', values.concurrency!, 64);
  const config = loadConfig();
  const fromDataDir = values['from-data-dir'] ? resolve(values['from-data-dir']) : config.dataDir;
  const report = await migrateStore(config, {
    fromDataDir,
    force: values.force, dryRun: values['dry-run'], batchSize, concurrency,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  const inserted = report.tables.reduce((n, t) => n + t.inserted, 0);
  const updated = report.tables.reduce((n, t) => n + t.updated, 0);
  process.stdout.write(
    `${values['dry-run'] ? 'dry run, nothing written' : 'done'}: ${report.accounts} account(s), ${inserted} new rows, ${updated} rows already there, ` +
    `${report.objects.copied} objects ${values['dry-run'] ? 'to copy' : 'copied'}, ${report.objects.skipped} already there, in ${(report.ms / 1000).toFixed(1)} s\n`,
  );
}
