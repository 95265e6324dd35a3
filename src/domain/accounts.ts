import type { AccountRecord, ApiKeyRecord, Role } from '../model/records.js';
import type { Caller, DomainDeps } from './context.js';
import { audited, type Actor, type AuditEvent } from './audit.js';
import { lesserRole, requireRole } from './context.js';
import type { MemberRole } from '../model/people.js';
import { hashToken, maskSecret } from './crypto.js';
import { ConflictError } from '../model/errors.js';
import { Errors } from './errors.js';
import { newId, newSecret } from './ids.js';
import { pageRequest, toPage } from './pagination.js';
import { PLANS, type PlanKey } from './policy.js';

export function accountView(deps: DomainDeps, a: AccountRecord, revealedSecret?: string) {
  const secret = deps.secretBox.decrypt(a.webhookSigningSecret);
  return {
    id: a.id,
    name: a.name,
    plan: { key: a.planKey, name: PLANS[a.planKey].name },
    createdAt: a.createdAt,
    webhook: {
      signingSecretPreview: maskSecret(secret),
      ...(revealedSecret ? { signingSecret: revealedSecret } : {}),
    },
  };
}

export function apiKeyView(k: ApiKeyRecord) {
  return {
    id: k.id, name: k.name, role: k.role, prefix: k.prefix, userId: k.userId ?? null, createdAt: k.createdAt, lastUsedAt: k.lastUsedAt,
    disabledAt: k.disabledAt,
  };
}

export async function createAccount(deps: DomainDeps, input: { name: string; planKey?: PlanKey }): Promise<AccountRecord> {
  const now = deps.clock.now();
  const account: AccountRecord = {
    id: newId('acct', now),
    name: input.name,
    planKey: input.planKey ?? deps.settings.defaultPlan,
    webhookSigningSecret: deps.secretBox.encrypt(newSecret('whsec')),
    createdAt: now,
    disabledAt: null,
  };
  try {
    await deps.db.accounts.create(account);
  } catch (err) {
    if (err instanceof ConflictError) throw Errors.invalidInput(`An account named "${input.name}" already exists.`);
    throw err;
  }
  return account;
}

/** Refuses every request of an account the operator has disabled, whichever key or session it comes with. */
export async function requireEnabledAccount(deps: DomainDeps, accountId: string): Promise<void> {
  const a = await deps.db.accounts.get(accountId);
  if (a?.disabledAt != null) {
    throw Errors.accountDisabled(`The workspace ${a.name} (${a.id}) has been disabled by the operator of this server; its queued render jobs wait until it is enabled again.`);
  }
}

/**
 * `press-cloud accounts disable|enable`: a disabled account's keys and sessions are refused (403 account_disabled)
 * and its queued jobs are not claimed (renderSlots); jobs already rendering finish. Enabling undoes both.
 */
export async function setAccountDisabled(deps: DomainDeps, accountId: string, disabled: boolean): Promise<AccountRecord> {
  const a = await deps.db.accounts.get(accountId);
  if (!a) throw Errors.workspaceNotFound(`No account ${accountId}.`);
  if (disabled === (a.disabledAt != null)) return a;
  const disabledAt = disabled ? deps.clock.now() : null;
  await audited(deps, accountId, { operator: true },
    { action: disabled ? 'workspace.disabled' : 'workspace.enabled', targetType: 'workspace', targetId: accountId },
    (db) => db.accounts.update(accountId, { disabledAt }));
  return { ...a, disabledAt };
}

/** Every account, newest first (operator CLI). */
export async function listAccounts(deps: DomainDeps, query: { cursor?: string; limit?: number }) {
  const page = pageRequest(query);
  return toPage(await deps.db.accounts.list(page), page.limit, (a) => a);
}

/** Finds an account by id or by name (operator CLI). */
export async function findAccount(deps: DomainDeps, idOrName: string): Promise<AccountRecord | null> {
  return (await deps.db.accounts.get(idOrName)) ?? (await deps.db.accounts.getByName(idOrName));
}

export async function getAccount(deps: DomainDeps, caller: Caller) {
  const a = await deps.db.accounts.get(caller.accountId);
  if (!a) throw Errors.invalidApiKey('The API key belongs to an account that no longer exists.');
  return accountView(deps, a);
}

export async function patchAccount(
  deps: DomainDeps,
  caller: Caller,
  input: { name?: string; webhook?: { signingSecretAction?: 'rotate' } },
) {
  requireRole(caller, 'admin', 'Changing account settings');
  let revealed: string | undefined;
  const patch: { name?: string; webhookSigningSecret?: string } = {};
  if (input.name !== undefined) patch.name = input.name;
  if (input.webhook?.signingSecretAction === 'rotate') {
    revealed = newSecret('whsec');
    patch.webhookSigningSecret = deps.secretBox.encrypt(revealed);
  }
  const events: AuditEvent[] = [];
  if (patch.name !== undefined) events.push({ action: 'workspace.renamed', targetType: 'workspace', targetId: caller.accountId, details: { name: patch.name } });
  if (revealed) events.push({ action: 'workspace.webhook_secret_rotated', targetType: 'workspace', targetId: caller.accountId });
  try {
    await audited(deps, caller.accountId, caller, events, (db) => db.accounts.update(caller.accountId, patch));
  } catch (err) {
    if (err instanceof ConflictError) throw Errors.invalidInput(`An account named "${input.name}" already exists.`);
    throw err;
  }
  const a = await deps.db.accounts.get(caller.accountId);
  return accountView(deps, a!, revealed);
}

/** The account's webhook signing secret in clear (for signing deliveries). */
export async function accountWebhookSecret(deps: DomainDeps, accountId: string): Promise<string> {
  const a = await deps.db.accounts.get(accountId);
  if (!a) throw Errors.internal(`account ${accountId} missing`);
  return deps.secretBox.decrypt(a.webhookSigningSecret);
}

// ---- API keys ----

/**
 * Creates a key; the plaintext is returned once and only its hash is stored. The key belongs to `userId` and acts
 * with their membership; without one (the operator CLI) it belongs to the workspace's owner, or to nobody while the
 * workspace has no users (the setup link then gives it to the new owner).
 */
export async function issueApiKey(deps: DomainDeps, accountId: string, input: { name: string; role: Role; userId?: string | null }, actor: Actor = { operator: true }) {
  const now = deps.clock.now();
  const userId = input.userId !== undefined ? input.userId : (await deps.db.memberships.owner(accountId))?.userId ?? null;
  const key = newSecret('pcak');
  const record: ApiKeyRecord = {
    id: newId('key', now),
    accountId,
    name: input.name,
    role: input.role,
    prefix: key.slice(0, 12),
    keyHash: hashToken(key),
    userId,
    createdAt: now,
    lastUsedAt: null,
    disabledAt: null,
  };
  await audited(deps, accountId, actor, { action: 'api_key.created', targetType: 'api_key', targetId: record.id, details: { name: record.name, role: record.role } },
    (db) => db.apiKeys.create(record));
  return { apiKey: apiKeyView(record), key };
}

export async function createApiKey(deps: DomainDeps, caller: Caller, input: { name: string; role: Role }) {
  requireRole(caller, 'admin', 'Creating API keys');
  return issueApiKey(deps, caller.accountId, { ...input, userId: caller.userId }, caller);
}

export async function listApiKeys(deps: DomainDeps, caller: Caller, query: { cursor?: string; limit?: number }) {
  requireRole(caller, 'admin', 'Listing API keys');
  const page = pageRequest(query);
  return toPage(await deps.db.apiKeys.list(caller.accountId, page), page.limit, apiKeyView);
}

export async function disableApiKey(deps: DomainDeps, caller: Caller, keyId: string) {
  requireRole(caller, 'admin', 'Disabling API keys');
  const k = await deps.db.apiKeys.get(caller.accountId, keyId);
  if (!k) throw Errors.apiKeyNotFound(`No API key ${keyId} in this account.`);
  await audited(deps, caller.accountId, caller, { action: 'api_key.disabled', targetType: 'api_key', targetId: keyId, details: { name: k.name } },
    (db) => db.apiKeys.disable(caller.accountId, keyId, deps.clock.now()));
}

/**
 * `DELETE /v1/api-keys/{keyId}?permanent=true`: the key is gone for good — its next request answers 401
 * invalid_api_key, like a key that never existed — and the audit log keeps its id. (Without `permanent`, DELETE
 * disables, as spec §2 says.)
 */
export async function deleteApiKey(deps: DomainDeps, caller: Caller, keyId: string) {
  requireRole(caller, 'admin', 'Deleting API keys');
  const k = await deps.db.apiKeys.get(caller.accountId, keyId);
  if (!k) throw Errors.apiKeyNotFound(`No API key ${keyId} in this account.`);
  await audited(deps, caller.accountId, caller, { action: 'api_key.deleted', targetType: 'api_key', targetId: keyId, details: { name: k.name, role: k.role } },
    (db) => db.apiKeys.delete(caller.accountId, keyId));
}

/** `PATCH /v1/api-keys/{keyId}`: disable a key of the account, or enable it again. */
export async function updateApiKey(deps: DomainDeps, caller: Caller, keyId: string, input: { disabled?: boolean }) {
  requireRole(caller, 'admin', 'Changing API keys');
  const k = await deps.db.apiKeys.get(caller.accountId, keyId);
  if (!k) throw Errors.apiKeyNotFound(`No API key ${keyId} in this account.`);
  if (input.disabled !== undefined && input.disabled !== (k.disabledAt !== null)) {
    const disabled = input.disabled;
    await audited(deps, caller.accountId, caller,
      { action: disabled ? 'api_key.disabled' : 'api_key.enabled', targetType: 'api_key', targetId: keyId, details: { name: k.name } },
      (db) => (disabled ? db.apiKeys.disable(caller.accountId, keyId, deps.clock.now()) : db.apiKeys.enable(caller.accountId, keyId)));
  }
  return { apiKey: apiKeyView((await deps.db.apiKeys.get(caller.accountId, keyId))!) };
}

const KEY_SHAPE = /^pcak_[A-Za-z0-9_-]{20,128}$/;
/** lastUsedAt is written at most once a minute per key, to keep reads off the write path. */
const TOUCH_INTERVAL_MS = 60_000;

/** Resolves a bearer token to its caller, or throws the spec's 401/403 errors. */
export async function authenticate(deps: DomainDeps, authorization: string | undefined, requestId: string | null = null): Promise<Caller> {
  if (!authorization) throw Errors.missingAuthorization('Send the API key as "Authorization: Bearer pcak_...".');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!m) throw Errors.missingAuthorization('The Authorization header must use the Bearer scheme: "Authorization: Bearer pcak_...".');
  const token = m[1];
  if (!KEY_SHAPE.test(token)) throw Errors.invalidApiKey('The API key is malformed; keys start with "pcak_".');
  const k = await deps.db.apiKeys.getByHash(hashToken(token));
  if (!k) throw Errors.invalidApiKey('The API key is not recognised.');
  if (k.disabledAt !== null) throw Errors.apiKeyDisabled('This API key has been disabled; enable the key in the dashboard (PATCH /v1/api-keys/{keyId} {"disabled": false}) or use another.');
  await requireEnabledAccount(deps, k.accountId);
  // The key acts with its creator's current membership: removed → no access, demoted → at most the new role.
  let role: MemberRole = k.role;
  if (k.userId) {
    const m = await deps.db.memberships.get(k.accountId, k.userId);
    if (!m) throw Errors.insufficientPermission('The user who created this API key is no longer a member of its workspace; ask an admin for a new key.');
    role = lesserRole(k.role, m.role);
  }
  const now = deps.clock.now();
  if (k.lastUsedAt === null || now - k.lastUsedAt > TOUCH_INTERVAL_MS) await deps.db.apiKeys.touch(k.id, now);
  return { accountId: k.accountId, keyId: k.id, userId: k.userId ?? null, role, requestId };
}

/**
 * First start on an empty store: creates account `default` and one admin key, returned so the operator sees it once.
 * Returns null when any account exists.
 */
export async function bootstrap(deps: DomainDeps): Promise<{ account: AccountRecord; key: string } | null> {
  if ((await deps.db.accounts.count()) > 0) return null;
  let account: AccountRecord;
  try {
    account = await createAccount(deps, { name: 'default' });
  } catch (err) {
    // several nodes starting on one empty database: another one bootstrapped first
    if ((await deps.db.accounts.count()) > 0) return null;
    throw err;
  }
  const { key } = await issueApiKey(deps, account.id, { name: 'bootstrap admin', role: 'admin' });
  return { account, key };
}
