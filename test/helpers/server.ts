import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SqlDatabase } from '../../src/adapters/sql/database.js';
import { loadConfig, type Config } from '../../src/config.js';
import { httpClient, type RequestOpts, type TestResponse } from './http.js';
import { createAccount, issueApiKey } from '../../src/domain/accounts.js';
import { ManualClock } from '../../src/domain/clock.js';
import type { PlanKey } from '../../src/model/records.js';
import type { Role } from '../../src/model/records.js';
import type { Renderer } from '../../packages/engine/src/renderer.js';
import { startServer, type RunningServer } from '../../src/start/server.js';
import type { S3TestServer } from './s3-server.js';

/**
 * `PRESS_TEST_BACKEND=distributed` (npm run test:distributed) runs every suite that starts its server here against
 * PostgreSQL (a fresh database from PRESS_TEST_DATABASE_URL per server) and an S3 server (s3rver) instead of SQLite
 * and the disk; anything else (the default) is the embedded configuration.
 */
export type TestBackend = 'embedded' | 'distributed';
export const TEST_BACKEND: TestBackend = process.env.PRESS_TEST_BACKEND === 'distributed' ? 'distributed' : 'embedded';

export interface TestServer extends RunningServer {
  clock: ManualClock;
  /** the process's data dir (on the distributed backend it holds nothing but what the node never shares) */
  dataDir: string;
  backend: TestBackend;
  /** the environment the server was configured from: `loadConfig(s.env)` is another node on the same data */
  env: Record<string, string>;
  /** keys of the blob store under `prefix` (e.g. 'outputs', 'pdfs'), whichever store the server runs on */
  storedKeys(prefix: string): Promise<string[]>;
  /**
   * The file holding a blob-store object's bytes: under `<dataDir>/storage/objects/` (embedded) or in the S3
   * emulator's directory (distributed), where its mtime is the object's LastModified. Exists iff the object does.
   */
  blobPath(key: string): string;
  /** what the blob store holds in its temporary area: `storage/tmp` files, or `tmp/` objects and unfinished multipart uploads */
  tmpEntries(): string[];
  /** a query (`?` placeholders) on the server's own metadata database, SQLite or PostgreSQL */
  sql<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
  /** everything the metadata database stores: the SQLite files' bytes, or every PostgreSQL table's rows as JSON */
  databaseDump(): Promise<Buffer>;
  /** admin key of the bootstrap account */
  adminKey: string;
  /** real HTTP request to the running server; JSON bodies are encoded, responses parsed */
  request(method: string, path: string, opts?: RequestOpts): Promise<TestResponse>;
  /** a new account with one key per role */
  newAccount(name: string, plan?: PlanKey): Promise<{ accountId: string; keys: Record<Role, string> }>;
  stop(): Promise<void>;
}

export type { RequestOpts, TestResponse };

/**
 * Starts the real server (SQLite + disk in a temp dir, listening on a free port) with a manual clock.
 * `env` overrides configuration as the environment would; `opts.renderer` replaces Chromium (control-plane tests
 * pass one that never launches a browser).
 */
export async function startTestServer(
  env: Record<string, string> = {},
  opts: { renderer?: Renderer; logStream?: NodeJS.WritableStream } = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'press-test-'));
  const backend = await startTestBackend();
  let server: RunningServer;
  const clock = new ManualClock(Date.now());
  const configEnv: Record<string, string> = { PORT: '0', HOST: '127.0.0.1', PRESS_DATA_DIR: dataDir, PRESS_WEBHOOK_ALLOW_PRIVATE: 'true', ...backend.env, ...env };
  try {
    const config: Config = loadConfig(configEnv);
    server = await startServer(config, { clock, logger: !!opts.logStream, logStream: opts.logStream, renderer: opts.renderer });
  } catch (err) {
    await backend.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const adminKey = server.bootstrapKey!;

  const { request } = httpClient(server.url, adminKey);

  return {
    ...server,
    clock,
    dataDir,
    backend: TEST_BACKEND,
    env: configEnv,
    async storedKeys(prefix: string) {
      const keys: string[] = [];
      for await (const o of server.deps.blobs.list(prefix)) keys.push(o.key);
      return keys;
    },
    blobPath: (key: string) => backend.s3 ? backend.s3.objectFile(key) : join(dataDir, 'storage', 'objects', key),
    tmpEntries() {
      if (!backend.s3) return readdirSync(join(dataDir, 'storage', 'tmp'));
      const files: string[] = [];
      const walk = (d: string) => {
        if (!existsSync(d)) return;
        for (const name of readdirSync(d)) {
          const full = join(d, name);
          if (statSync(full).isDirectory()) walk(full);
          else if (name.endsWith('._S3rver_object')) files.push(full);
        }
      };
      walk(dirname(backend.s3.objectFile('tmp/x')));
      return [...files, ...backend.s3.pendingMultipartUploads()];
    },
    sql: <T,>(query: string, params: unknown[] = []) => runSql<T>(server, query, params),
    async databaseDump() {
      if (sqlOf(server).dialect.name === 'sqlite') {
        return Buffer.concat(['press.db', 'press.db-wal'].map((f) => join(dataDir, f)).filter(existsSync).map((f) => readFileSync(f)));
      }
      const tables = await runSql<{ t: string }>(server, `SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1`);
      const parts: string[] = [];
      for (const { t } of tables) {
        for (const row of await runSql<{ j: string }>(server, `SELECT row_to_json(x)::text AS j FROM "${t}" x`)) parts.push(row.j);
      }
      return Buffer.from(parts.join('\n'));
    },
    adminKey,
    request,
    async newAccount(name: string, plan?: PlanKey) {
      const account = await createAccount(server.deps, { name, planKey: plan });
      const keys = {} as Record<Role, string>;
      for (const role of ['admin', 'editor', 'viewer'] as const) keys[role] = (await issueApiKey(server.deps, account.id, { name: role, role })).key;
      return { accountId: account.id, keys };
    },
    async stop() {
      try {
        await server.close({ abort: true });
      } finally {
        await backend.stop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * The stores behind one test server: nothing extra for `embedded`; for `distributed` a fresh PostgreSQL database and
 * an S3 server (both removed by `stop()`), given to the server as DATABASE_URL and S3_* like an operator would.
 */
export async function startTestBackend(): Promise<{ env: Record<string, string>; s3: S3TestServer | null; stop(): Promise<void> }> {
  if (TEST_BACKEND === 'embedded') return { env: {}, s3: null, stop: async () => {} };
  // loaded only here: the embedded run needs neither pg nor s3rver
  const [{ createTestDatabase, PG_SKIP_REASON, PG_TEST_URL }, { startS3Server }] = await Promise.all([import('./backends.js'), import('./s3-server.js')]);
  if (!PG_TEST_URL) throw new Error(`PRESS_TEST_BACKEND=distributed needs PostgreSQL: ${PG_SKIP_REASON}`);
  const db = await createTestDatabase();
  let s3: Awaited<ReturnType<typeof startS3Server>>;
  try {
    s3 = await startS3Server();
  } catch (err) {
    await db.drop();
    throw err;
  }
  return {
    // every node of a shared store needs the same key; a fresh one per server here
    env: { DATABASE_URL: db.url, ...s3.env, PRESS_SECRET_KEY: randomBytes(32).toString('hex') },
    s3,
    async stop() {
      try {
        await s3.stop();
      } finally {
        await db.drop();
      }
    },
  };
}

function sqlOf(server: RunningServer): SqlDatabase {
  const db = server.deps.db;
  if (!(db instanceof SqlDatabase)) throw new Error('the server runs on no SQL database');
  return db;
}

/** `?` placeholders on either database (the executor numbers them for PostgreSQL) */
async function runSql<T>(server: RunningServer, query: string, params: unknown[] = []): Promise<T[]> {
  return (await sqlOf(server).sql.all(query, params)) as T[];
}
