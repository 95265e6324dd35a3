import { QuotaExceededError } from '../model/errors.js';
import type { StoredPdf, UsageMeterCode } from '../model/records.js';
import type { CountQuota } from '../ports/database.js';
import type { Caller, DomainDeps } from './context.js';
import { Errors } from './errors.js';
import { PLANS, UPLOAD_LIMITS, billPeriod, retryAfterSeconds, type Plan, type PlanKey } from './policy.js';

/** The account's plan; the self-hosted `unlimited` plan takes the operator's overrides (render timeout, network). */
export async function accountPolicy(deps: DomainDeps, accountId: string): Promise<Plan> {
  const a = await deps.db.accounts.get(accountId);
  if (!a) throw Errors.internal(`account ${accountId} missing`);
  return planOf(deps, a.planKey);
}

/**
 * How many of the account's jobs may render at once (null: no limit): its plan's limit, or none at all while the
 * operator has the account disabled — its queued jobs stay queued, unclaimed, until it is enabled again.
 */
export async function renderSlots(deps: DomainDeps, accountId: string): Promise<number | null> {
  const a = await deps.db.accounts.get(accountId);
  if (!a) throw Errors.internal(`account ${accountId} missing`);
  return a.disabledAt != null ? 0 : planOf(deps, a.planKey).policy.maxConcurrentRenderJobs;
}

export function planOf(deps: DomainDeps, key: PlanKey): Plan {
  const plan = PLANS[key];
  if (key !== 'unlimited') return plan;
  return { ...plan, policy: { ...plan.policy, ...deps.settings.unlimitedPolicy } };
}

const METERS: {
  code: UsageMeterCode; aggregation: 'count' | 'sum'; unit: 'count' | 'ms'; limit: keyof Plan['policy'];
  error: 'deployCommitQuotaExceeded' | 'renderJobQuotaExceeded' | 'renderTimeQuotaExceeded';
}[] = [
  { code: 'deploy_commits', aggregation: 'count', unit: 'count', limit: 'maxDeployCommitsPerBillPeriod', error: 'deployCommitQuotaExceeded' },
  { code: 'render_jobs', aggregation: 'count', unit: 'count', limit: 'maxRenderJobsPerBillPeriod', error: 'renderJobQuotaExceeded' },
  { code: 'render_time_ms', aggregation: 'sum', unit: 'ms', limit: 'maxRenderTimeMsPerBillPeriod', error: 'renderTimeQuotaExceeded' },
];

/** the meter's 429 quota error: Retry-After = seconds to the period's end */
function quotaExceeded(deps: DomainDeps, code: UsageMeterCode, limit: number) {
  const meter = METERS.find((m) => m.code === code)!;
  const now = deps.clock.now();
  return Errors[meter.error](`This bill period's ${code} quota (${limit}) is used up; it resets at ${new Date(billPeriod(now).end).toISOString()}.`, {
    headers: { 'Retry-After': retryAfterSeconds(now) },
  });
}

/**
 * Throws the meter's 429 quota error when the period's quota is used up. Returns the quota for the write that records
 * the unit (null: no limit), which checks it again in its own transaction: this read alone lets concurrent creates
 * all pass with one unit left (`recordingUnit` turns the store's refusal into the same 429).
 * `plan`: the account's plan if the caller already loaded it (saves a store round trip), else it is looked up.
 */
export async function checkQuota(deps: DomainDeps, accountId: string, code: UsageMeterCode, plan?: Plan): Promise<CountQuota | null> {
  const meter = METERS.find((m) => m.code === code)!;
  const { policy } = plan ?? (await accountPolicy(deps, accountId));
  const limit = policy[meter.limit] as number | null;
  if (limit === null) return null;
  const periodStart = billPeriod(deps.clock.now()).start;
  const used = await deps.db.usage.periodTotal(accountId, code, periodStart);
  if (used >= limit) throw quotaExceeded(deps, code, limit);
  return { limit, periodStart, seen: used };
}

/** Runs a store write given a CountQuota; the store's QuotaExceededError becomes the meter's 429. */
export async function recordingUnit<T>(deps: DomainDeps, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof QuotaExceededError) throw quotaExceeded(deps, err.meter as UsageMeterCode, err.limit);
    throw err;
  }
}

/**
 * Bytes held in storage by kind. Render outputs and managed PDFs are counted by the `outputBytes` hook, which the
 * render-job module provides; without it they are 0.
 */
export type OutputBytesFn = (accountId: string) => Promise<{ managedPdfStorageBytes: number; renderOutputStorageBytes: number }>;

const DAY_MS = 86_400_000;
const GIB = 1024 ** 3;
const day = (t: number) => new Date(t).toISOString().slice(0, 10);

/**
 * The highest number of bytes held at any moment of each UTC day in [from, to), from what was stored when: the
 * `daily_peak` aggregation of the docs' `managed_pdf_storage` meter. One pass over creations and deletions.
 */
export function dailyPeaks(stored: StoredPdf[], from: number, to: number): { day: string; peakBytes: number; peakGiBDay: number }[] {
  const events = stored.flatMap((p) => [{ at: p.createdAt, delta: p.bytes }, ...(p.deletedAt === null ? [] : [{ at: p.deletedAt, delta: -p.bytes }])]);
  // at one instant deletions go first: a PDF replaced at the same millisecond is not counted twice
  events.sort((x, y) => x.at - y.at || x.delta - y.delta);
  let held = 0;
  let i = 0;
  const days = [];
  for (let start = from; start < to; start += DAY_MS) {
    while (i < events.length && events[i].at <= start) held += events[i++].delta;
    let peak = held;
    while (i < events.length && events[i].at < start + DAY_MS) {
      held += events[i++].delta;
      peak = Math.max(peak, held);
    }
    days.push({ day: day(start), peakBytes: peak, peakGiBDay: peak / GIB });
  }
  return days;
}

/** `GET /v1/usage` exactly as the docs' usage page shows it (spec §7, §9.3). */
export async function getUsage(deps: DomainDeps, caller: Caller, outputBytes?: OutputBytesFn) {
  const account = await deps.db.accounts.get(caller.accountId);
  if (!account) throw Errors.internal('account missing');
  const plan = planOf(deps, account.planKey);
  const now = deps.clock.now();
  const period = billPeriod(now);
  const usageMeters = await Promise.all(
    METERS.map(async (m) => ({
      code: m.code,
      aggregation: m.aggregation,
      totalQuantity: await deps.db.usage.periodTotal(caller.accountId, m.code, period.start),
      unit: m.unit,
      version: '1' as const,
    })),
  );
  const deployVersionStorageBytes = await deps.db.blobs.accountBlobBytes(caller.accountId);
  const out = outputBytes ? await outputBytes(caller.accountId) : { managedPdfStorageBytes: 0, renderOutputStorageBytes: 0 };
  const liveStorage = {
    deployVersionStorageBytes,
    managedPdfStorageBytes: out.managedPdfStorageBytes,
    renderOutputStorageBytes: out.renderOutputStorageBytes,
    totalBytes: deployVersionStorageBytes + out.managedPdfStorageBytes + out.renderOutputStorageBytes,
  };
  // the period's days so far, today included
  const today = period.usageDayStart + DAY_MS;
  const peaks = dailyPeaks(await deps.db.pdfs.storedBetween(caller.accountId, period.start, today), period.start, today);
  const totalPeakBytes = peaks.reduce((n, d) => n + d.peakBytes, 0);
  return {
    period: { kind: 'current_bill_period' as const, start: period.start, end: period.end, usageDayStart: day(period.start), usageDayEndExclusive: day(period.end) },
    plan: { key: plan.key, name: plan.name, currency: plan.currency, interval: plan.interval, monthlyPriceCents: plan.monthlyPriceCents },
    policy: plan.policy,
    usageMeters,
    liveStorage,
    uploadLimits: { maxSingleFileBytes: UPLOAD_LIMITS.maxSingleFileBytes },
    storageMeters: [{
      code: 'managed_pdf_storage' as const,
      aggregation: 'daily_peak' as const,
      unit: 'bytes' as const,
      currentBytes: liveStorage.managedPdfStorageBytes,
      peakBytesByDay: peaks,
      totalPeakBytes,
      totalPeakGiBDays: totalPeakBytes / GIB,
      version: '1' as const,
    }],
    // no billing provider when self-hosted: the bill is the period itself (docs clients read bill.periodEnd)
    bill: { provider: 'none' as const, interval: plan.interval, periodStart: period.start, periodEnd: period.end },
    generatedAt: now,
  };
}

/**
 * `GET /v1/usage/daily` ([ours]; viewer): the meters of `/v1/usage` per UTC day of the current bill period, from its
 * first day to today, summed in the database so the dashboard's charts are right at any volume.
 */
export async function getDailyUsage(deps: DomainDeps, caller: Caller) {
  const now = deps.clock.now();
  const period = billPeriod(now);
  const rows = await deps.db.usage.daily(caller.accountId, period.start, period.end);
  const days = [];
  for (let t = period.start; t <= now && t < period.end; t += DAY_MS) {
    const n = Math.floor(t / DAY_MS);
    const sum = (meter: string) => rows.filter((r) => r.day === n && r.meter === meter).reduce((a, r) => a + r.total, 0);
    days.push({ day: new Date(t).toISOString().slice(0, 10), deployCommits: sum('deploy_commits'), renderJobs: sum('render_jobs'), renderTimeMs: sum('render_time_ms') });
  }
  return { period: { start: period.start, end: period.end }, days };
}
