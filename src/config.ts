import { resolve } from 'node:path';
import { isPlanKey, type PlanKey } from './domain/policy.js';

/** Everything the process reads from its environment, parsed once and frozen. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  logLevel: string;
  /** pretty: pino-pretty's colored lines; json: one JSON object per line */
  logFormat: 'pretty' | 'json';
  /** 32-byte key for secrets at rest; null = generated once into `<dataDir>/secret.key` */
  secretKey: Buffer | null;
  defaultPlan: PlanKey;
  webhookAllowPrivate: boolean;
  /** base URL written into signed links; default http://HOST:PORT */
  publicUrl: string | null;
  /** per-key requests per minute (requests without a valid key: per client address); null = off */
  rateLimitPerMinute: number | null;
  /** a request body must arrive within this many seconds */
  bodyTimeoutSeconds: number;
  /** bytes of unfinished JSON request bodies held in memory at once, all requests together */
  bodyMemoryBytes: number;
  /** seconds between expiry/GC sweeps */
  sweepIntervalSeconds: number;
  /** hours a transient render output is kept (spec default 24) */
  transientOutputTtlHours: number;
  /** concurrent renders in this process; default = CPU cores */
  renderConcurrency: number | null;
  /** browser recycled after this many renders; 0 = never (the memory bounds recycle instead) */
  browserRecycleAfter: number;
  /** a warm page whose renderer process is over this many bytes after a render is closed and replaced; 0 = off */
  pageMemoryBytes: number;
  /** the browser is recycled when its own processes (all but renderers) are over this many bytes; 0 = off */
  browserMemoryBytes: number;
  /** `process` (default for `serve`): renders run in a supervised child process; `inline`: in the API process */
  renderIsolation: 'process' | 'inline';
  /** V8 heap bound of the render process (MiB) */
  renderProcessHeapMb: number;
  /** explicit Chromium binary */
  chromiumPath: string | null;
  /** Chromium's sandbox: `auto` (on wherever it can run) or `off` */
  chromiumSandbox: 'auto' | 'off';
  /** the unprivileged user Chromium runs as when the server runs as root (name or uid[:gid]) */
  chromiumSandboxUser: string;
  /** memory (MiB) one page's renderer process may hold; over it the render fails with render_resource_limit */
  renderMemoryMib: number;
  /** render timeout of the self-hosted plan (default 60 s) */
  renderTimeoutMs: number;
  /** self-hosted plan: rendered pages may reach public internet addresses (never private ones) */
  allowExternalNetwork: boolean;
  /** render job lease; a lost worker's job is retried after it lapses */
  jobLeaseSeconds: number;
  /** DATABASE_URL (postgres://…): PostgreSQL for metadata and the job queue; null = SQLite under dataDir */
  databaseUrl: string | null;
  /** S3-compatible object store for blobs and outputs (S3_BUCKET set); null = the local disk under dataDir */
  s3: S3Config | null;
  /** PRESS_SIGNED_URLS: who signs download/preview links, this server (`server`, default) or the object store (`s3`) */
  signedUrls: 'server' | 's3';
  /** PRESS_SMTP_URL (smtp:// or smtps://): invitations are e-mailed through it; null = links are only shown */
  smtpUrl: string | null;
  /** PRESS_SMTP_FROM: the sender of those e-mails */
  smtpFrom: string;
  /** PRESS_PASSWORD_HASH_COST: log2 of scrypt's N for new password hashes (default 17 = 128 MiB per hash) */
  passwordHashCost: number;
}

/** S3_* settings; credentials left null fall back to the AWS SDK's default chain (AWS_* env, profile, instance role). */
export interface S3Config {
  bucket: string;
  /** S3_ENDPOINT, e.g. https://<account>.r2.cloudflarestorage.com or http://127.0.0.1:3900; null = AWS */
  endpoint: string | null;
  region: string;
  accessKeyId: string | null;
  secretAccessKey: string | null;
  /** S3_FORCE_PATH_STYLE: `endpoint/bucket/key` instead of `bucket.endpoint/key` (MinIO, Garage, SeaweedFS, s3rver) */
  forcePathStyle: boolean;
  /** S3_PREFIX: every key lives under it (normalised to end with "/"), so one bucket can hold several installations */
  prefix: string;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name}=${raw} must be an integer from ${min} to ${max}.`);
  return n;
}

function sandboxMode(v: string | undefined): 'auto' | 'off' {
  if (!v || v === 'auto') return 'auto';
  if (v === 'off') return 'off';
  throw new ConfigError(`PRESS_CHROMIUM_SANDBOX=${v} must be auto or off.`);
}

function bool(env: Env, name: string): boolean {
  const raw = (env[name] ?? '').toLowerCase();
  if (raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw new ConfigError(`${name}=${env[name]} must be true or false.`);
}

function s3Config(env: Env): S3Config | null {
  const bucket = env.S3_BUCKET || '';
  const related = ['S3_ENDPOINT', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'S3_PREFIX'].filter((n) => env[n]);
  if (!bucket) {
    if (related.length) throw new ConfigError(`${related.join(', ')} set without S3_BUCKET; set S3_BUCKET to store blobs in S3.`);
    return null;
  }
  const endpoint = env.S3_ENDPOINT || null;
  if (endpoint && !/^https?:\/\/[^/]+/.test(endpoint)) throw new ConfigError(`S3_ENDPOINT=${endpoint} must be an http(s) URL.`);
  const accessKeyId = env.S3_ACCESS_KEY_ID || null;
  const secretAccessKey = env.S3_SECRET_ACCESS_KEY || null;
  if (!accessKeyId !== !secretAccessKey) throw new ConfigError('Set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither (AWS default credentials).');
  const prefix = (env.S3_PREFIX ?? '').replace(/^\/+|\/+$/g, '');
  return Object.freeze({
    bucket,
    endpoint: endpoint?.replace(/\/$/, '') ?? null,
    region: env.S3_REGION || 'us-east-1',
    accessKeyId,
    secretAccessKey,
    forcePathStyle: bool(env, 'S3_FORCE_PATH_STYLE'),
    prefix: prefix ? `${prefix}/` : '',
  });
}

function databaseUrl(env: Env): string | null {
  const url = env.DATABASE_URL || null;
  if (url && !/^postgres(ql)?:\/\/./.test(url)) {
    throw new ConfigError('DATABASE_URL must be a postgres:// URL (e.g. postgres://press:secret@127.0.0.1:5432/press); unset it to use SQLite.');
  }
  return url;
}

/** LOG_FORMAT=pretty|json; by default human-readable on a terminal, JSON lines otherwise (files, journald, CI). */
function logFormat(env: Env): 'pretty' | 'json' {
  const v = env.LOG_FORMAT;
  if (v === undefined || v === '') return process.stdout.isTTY ? 'pretty' : 'json';
  if (v !== 'pretty' && v !== 'json') throw new ConfigError(`LOG_FORMAT=${v} must be pretty or json.`);
  return v;
}

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const plan = env.PRESS_DEFAULT_PLAN ?? 'unlimited';
  if (!isPlanKey(plan)) throw new ConfigError(`PRESS_DEFAULT_PLAN=${plan} must be one of unlimited, free, starter, pro.`);
  let secretKey: Buffer | null = null;
  if (env.PRESS_SECRET_KEY) {
    secretKey = Buffer.from(env.PRESS_SECRET_KEY, /^[0-9a-f]{64}$/i.test(env.PRESS_SECRET_KEY) ? 'hex' : 'base64');
    if (secretKey.length !== 32) throw new ConfigError('PRESS_SECRET_KEY must be 32 bytes, as 64 hex characters or base64.');
  }
  const publicUrl = env.PRESS_PUBLIC_URL || null;
  if (publicUrl && !/^https?:\/\/[^/]+/.test(publicUrl)) throw new ConfigError(`PRESS_PUBLIC_URL=${publicUrl} must be an http(s) URL.`);
  const rate = int(env, 'PRESS_RATE_LIMIT_PER_MINUTE', 0, 0, 1_000_000);
  const s3 = s3Config(env);
  const signedUrls = env.PRESS_SIGNED_URLS || 'server';
  if (signedUrls !== 'server' && signedUrls !== 's3') throw new ConfigError(`PRESS_SIGNED_URLS=${signedUrls} must be server or s3.`);
  if (signedUrls === 's3' && !s3) throw new ConfigError('PRESS_SIGNED_URLS=s3 needs the S3 blob store; set S3_BUCKET (and S3_ENDPOINT, credentials).');
  const dbUrl = databaseUrl(env);
  // Every node of a shared store must decrypt the same secrets and verify the same signed links.
  if (dbUrl && !secretKey) {
    throw new ConfigError('PRESS_SECRET_KEY must be set when DATABASE_URL is set: every node needs the same key (e.g. openssl rand -hex 32).');
  }
  const smtpUrl = env.PRESS_SMTP_URL || null;
  if (smtpUrl && !/^smtps?:\/\/./.test(smtpUrl)) throw new ConfigError('PRESS_SMTP_URL must be an smtp:// or smtps:// URL (e.g. smtps://user:pass@smtp.example.com:465).');
  return Object.freeze({
    port: int(env, 'PORT', 8787, 0, 65535),
    host: env.HOST || '127.0.0.1',
    dataDir: resolve(env.PRESS_DATA_DIR || './.press-data'),
    logLevel: env.LOG_LEVEL || 'info',
    logFormat: logFormat(env),
    secretKey,
    defaultPlan: plan,
    webhookAllowPrivate: bool(env, 'PRESS_WEBHOOK_ALLOW_PRIVATE'),
    publicUrl: publicUrl?.replace(/\/$/, '') ?? null,
    rateLimitPerMinute: rate === 0 ? null : rate,
    bodyTimeoutSeconds: int(env, 'PRESS_BODY_TIMEOUT_SECONDS', 60, 1, 3600),
    bodyMemoryBytes: int(env, 'PRESS_BODY_MEMORY_MIB', 256, 1, 65_536) * 1024 * 1024,
    sweepIntervalSeconds: int(env, 'PRESS_SWEEP_INTERVAL_SECONDS', 60, 1, 86_400),
    transientOutputTtlHours: int(env, 'PRESS_TRANSIENT_OUTPUT_TTL_HOURS', 24, 1, 24 * 365),
    renderConcurrency: env.PRESS_RENDER_CONCURRENCY ? int(env, 'PRESS_RENDER_CONCURRENCY', 1, 1, 256) : null,
    browserRecycleAfter: int(env, 'PRESS_BROWSER_RECYCLE_AFTER', 0, 0, 1_000_000),
    pageMemoryBytes: int(env, 'PRESS_PAGE_MEMORY_MIB', 512, 0, 1_048_576) * 1024 * 1024,
    browserMemoryBytes: int(env, 'PRESS_BROWSER_MEMORY_MIB', 1024, 0, 1_048_576) * 1024 * 1024,
    renderIsolation: env.PRESS_RENDER_ISOLATION === 'inline' ? 'inline' : 'process',
    renderProcessHeapMb: int(env, 'PRESS_RENDER_PROCESS_HEAP_MB', 1024, 128, 65_536),
    chromiumPath: env.PRESS_CHROMIUM_PATH || null,
    chromiumSandbox: sandboxMode(env.PRESS_CHROMIUM_SANDBOX),
    chromiumSandboxUser: env.PRESS_CHROMIUM_SANDBOX_USER || 'nobody',
    renderMemoryMib: int(env, 'PRESS_RENDER_MEMORY_MIB', 1024, 64, 65_536),
    renderTimeoutMs: int(env, 'PRESS_RENDER_TIMEOUT_MS', 60_000, 500, 600_000),
    allowExternalNetwork: bool(env, 'PRESS_ALLOW_EXTERNAL_NETWORK'),
    jobLeaseSeconds: int(env, 'PRESS_JOB_LEASE_SECONDS', 30, 2, 3600),
    databaseUrl: dbUrl,
    s3,
    signedUrls,
    smtpUrl,
    smtpFrom: env.PRESS_SMTP_FROM || 'Press Cloud <press-cloud@localhost>',
    passwordHashCost: int(env, 'PRESS_PASSWORD_HASH_COST', 17, 10, 20),
  });
}
