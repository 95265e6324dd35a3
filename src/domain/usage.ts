import type { UsageMeterCode } from '../model/records.js';
import type { Caller, DomainDeps } from './context.js';
import { Errors } from './errors.js';
import { PLANS, UPLOAD_LIMITS, billPeriod, retryAfterSeconds, type Plan, type PlanKey } from './policy.js';

/** The account's plan; the self-hosted `unlimited` plan takes the operator's overrides (render timeout, network). */
export async function accountPolicy(deps: DomainDeps, accountId: string): Promise<Plan> {
  const a = await deps.db.accounts.get(accountId);
  if (!a) throw Errors.internal(`account ${accountId} missing`);
  return planOf(deps, a.planKey);
}

export function planOf(deps: DomainDeps, key: PlanKey): Plan {
  const plan = PLANS[key];
  if (key !== 'unlimited') return plan;
  return { ...plan, policy: { ...plan.policy, ...deps.settings.unlimitedPolicy } };
}

const METERS: { code: UsageMeterCode; unit: string; limit: keyof Plan['policy']; error: 'deployCommitQuotaExceeded' | 'renderJobQuotaExceeded' | 'renderTimeQuotaExceeded' }[] = [
  { code: 'deploy_commits', unit: 'commit', limit: 'maxDeployCommitsPerBillPeriod', error: 'deployCommitQuotaExceeded' },
  { code: 'render_jobs', unit: 'job', limit: 'maxRenderJobsPerBillPeriod', error: 'renderJobQuotaExceeded' },
  { code: 'render_time_ms', unit: 'millisecond', limit: 'maxRenderTimeMsPerBillPeriod', error: 'renderTimeQuotaExceeded' },
];

/**
 * Throws the meter's 429 quota error (Retry-After = seconds to the period's end) when the period's quota is used up.
 * `plan`: the account's plan if the caller already loaded it (saves a store round trip), else it is looked up.
 */
export async function checkQuota(deps: DomainDeps, accountId: string, code: UsageMeterCode, plan?: Plan): Promise<void> {
  const meter = METERS.find((m) => m.code === code)!;
  const { policy } = plan ?? (await accountPolicy(deps, accountId));
  const limit = policy[meter.limit] as number | null;
  if (limit === null) return;
  const now = deps.clock.now();
  const { start, end } = billPeriod(now);
  const used = await deps.db.usage.total(accountId, code, start, end);
  if (used >= limit) {
    throw Errors[meter.error](`This bill period's ${code} quota (${limit}) is used up; it resets at ${new Date(end).toISOString()}.`, {
      headers: { 'Retry-After': retryAfterSeconds(now) },
    });
  }
}

/**
 * Bytes held in storage by kind. Render outputs and managed PDFs are counted by the `outputBytes` hook, which the
 * render-job module provides; without it they are 0.
 */
export type OutputBytesFn = (accountId: string) => Promise<{ managedPdfStorageBytes: number; renderOutputStorageBytes: number }>;

export async function getUsage(deps: DomainDeps, caller: Caller, outputBytes?: OutputBytesFn) {
  const account = await deps.db.accounts.get(caller.accountId);
  if (!account) throw Errors.internal('account missing');
  const plan = planOf(deps, account.planKey);
  const now = deps.clock.now();
  const period = billPeriod(now);
  const usageMeters = await Promise.all(
    METERS.map(async (m) => ({
      code: m.code,
      aggregation: 'sum' as const,
      totalQuantity: await deps.db.usage.total(caller.accountId, m.code, period.start, period.end),
      unit: m.unit,
      version: 1,
      limit: plan.policy[m.limit] as number | null,
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
  return {
    period: { kind: 'current_bill_period' as const, ...period },
    plan: { key: plan.key, name: plan.name, currency: plan.currency, interval: plan.interval, monthlyPriceCents: plan.monthlyPriceCents },
    policy: plan.policy,
    usageMeters,
    liveStorage,
    uploadLimits: {
      maxSingleFileBytes: UPLOAD_LIMITS.maxSingleFileBytes,
      maxSessionBytes: UPLOAD_LIMITS.maxSessionBytes,
      maxSessionFiles: UPLOAD_LIMITS.maxSessionFiles,
    },
    storageMeters: [
      { code: 'total_storage_bytes', totalBytes: liveStorage.totalBytes, limitBytes: plan.policy.storageLimitBytes },
    ],
    bill: null,
    generatedAt: now,
  };
}
