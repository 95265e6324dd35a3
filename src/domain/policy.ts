/** Plan presets of spec §8. `null` means unlimited. `unlimited` is the self-hosted default. */
export interface Policy {
  allowExternalNetwork: boolean;
  maxBytesPerDeployCommit: number | null;
  /** null = the renderer's capacity */
  maxConcurrentRenderJobs: number | null;
  maxDeployCommitsPerBillPeriod: number | null;
  maxFilesPerDeployCommit: number | null;
  maxRenderJobsPerBillPeriod: number | null;
  maxRenderOutputBytes: number | null;
  maxRenderTimeMsPerBillPeriod: number | null;
  maxRenderTimeoutMs: number;
  storageLimitBytes: number | null;
}

export interface Plan {
  key: PlanKey;
  name: string;
  currency: string;
  interval: 'month';
  /** Self-hosted: no billing provider, so every plan is priced 0. */
  monthlyPriceCents: number;
  policy: Policy;
}

export const PLAN_KEYS = ['unlimited', 'free', 'starter', 'pro'] as const;
export type PlanKey = (typeof PLAN_KEYS)[number];

/** Byte limits are binary (spec §9.2): 10 MB = 10 485 760 bytes, as the Press.js docs count them. */
const MB = 1024 * 1024;
const GB = 1024 * MB;
const MIN = 60_000;

/** Hard limits on every plan (spec §4). */
export const UPLOAD_LIMITS = {
  maxSingleFileBytes: 10 * MB,
  maxSessionBytes: 256 * MB,
  maxSessionFiles: 5_000,
  sessionLifetimeMs: 60 * MIN,
  commitLockMs: 5 * MIN,
} as const;

export const PLANS: Record<PlanKey, Plan> = {
  free: {
    key: 'free', name: 'Free', currency: 'usd', interval: 'month', monthlyPriceCents: 0,
    policy: {
      allowExternalNetwork: false, maxBytesPerDeployCommit: 25 * MB, maxConcurrentRenderJobs: 1,
      maxDeployCommitsPerBillPeriod: 100, maxFilesPerDeployCommit: 50, maxRenderJobsPerBillPeriod: 500,
      maxRenderOutputBytes: 50 * MB, maxRenderTimeMsPerBillPeriod: 10 * MIN, maxRenderTimeoutMs: 15_000,
      storageLimitBytes: 1 * GB,
    },
  },
  starter: {
    key: 'starter', name: 'Starter', currency: 'usd', interval: 'month', monthlyPriceCents: 0,
    policy: {
      allowExternalNetwork: true, maxBytesPerDeployCommit: 50 * MB, maxConcurrentRenderJobs: 10,
      maxDeployCommitsPerBillPeriod: null, maxFilesPerDeployCommit: 200, maxRenderJobsPerBillPeriod: null,
      maxRenderOutputBytes: 200 * MB, maxRenderTimeMsPerBillPeriod: 150 * MIN, maxRenderTimeoutMs: 60_000,
      storageLimitBytes: 10 * GB,
    },
  },
  pro: {
    key: 'pro', name: 'Pro', currency: 'usd', interval: 'month', monthlyPriceCents: 0,
    policy: {
      allowExternalNetwork: true, maxBytesPerDeployCommit: 100 * MB, maxConcurrentRenderJobs: 50,
      maxDeployCommitsPerBillPeriod: null, maxFilesPerDeployCommit: 500, maxRenderJobsPerBillPeriod: null,
      maxRenderOutputBytes: 200 * MB, maxRenderTimeMsPerBillPeriod: 600 * MIN, maxRenderTimeoutMs: 60_000,
      storageLimitBytes: 50 * GB,
    },
  },
  unlimited: {
    key: 'unlimited', name: 'Self-hosted (unlimited)', currency: 'usd', interval: 'month', monthlyPriceCents: 0,
    policy: {
      allowExternalNetwork: false, maxBytesPerDeployCommit: 256 * MB, maxConcurrentRenderJobs: null,
      maxDeployCommitsPerBillPeriod: null, maxFilesPerDeployCommit: 5_000, maxRenderJobsPerBillPeriod: null,
      maxRenderOutputBytes: 200 * MB, maxRenderTimeMsPerBillPeriod: null, maxRenderTimeoutMs: 60_000,
      storageLimitBytes: null,
    },
  },
};

/** Members per workspace (spec §10): Free and Starter owner only, Pro 5; self-hosted `unlimited` has no limit. */
export const MEMBER_LIMITS: Record<PlanKey, number | null> = { free: 1, starter: 1, pro: 5, unlimited: null };

export function isPlanKey(v: string): v is PlanKey {
  return (PLAN_KEYS as readonly string[]).includes(v);
}

/** The current bill period: the calendar month in UTC. */
export function billPeriod(now: number) {
  const d = new Date(now);
  const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  const usageDayStart = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return { start, end, usageDayStart, usageDayEndExclusive: usageDayStart + 86_400_000 };
}

/** Seconds until the period ends: the Retry-After of quota errors. */
export function retryAfterSeconds(now: number): string {
  return String(Math.max(1, Math.ceil((billPeriod(now).end - now) / 1000)));
}
