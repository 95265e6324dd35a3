import type { AliasRecord, DeployRecord, DeployVersionRecord } from '../model/records.js';
import { audited, type AuditEvent } from './audit.js';
import type { Caller, DomainDeps } from './context.js';
import { requireRole } from './context.js';
import { maskSecret } from './crypto.js';
import { ConflictError } from '../model/errors.js';
import { Errors } from './errors.js';
import { newId, newSecret } from './ids.js';
import { MAX_LIMIT, pageRequest, toPage } from './pagination.js';

export const SLUG_PATTERN = '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$';
export const VAR_NAME_PATTERN = '^[A-Z_][A-Z0-9_]*$';
const SLUG_RE = new RegExp(SLUG_PATTERN);
export const MAX_VAR_VALUE_BYTES = 4096;
export const MAX_VARS_PER_KIND = 100;

export function deployView(d: DeployRecord) {
  return { id: d.id, accountId: d.accountId, slug: d.slug, name: d.name, createdAt: d.createdAt };
}

export function versionView(v: DeployVersionRecord) {
  return { id: v.id, deployId: v.deployId, fileCount: v.fileCount, bytes: v.bytes, uploadSessionId: v.uploadSessionId, createdAt: v.createdAt };
}

export function aliasView(a: AliasRecord) {
  return { name: a.name, deployId: a.deployId, deployVersionId: a.deployVersionId, updatedAt: a.updatedAt };
}

function slugConflict(slug: string) {
  return Errors.deploySlugConflict(`The slug "${slug}" is already used by another deploy in this account.`);
}

/** Loads a live deploy of the caller's account or throws 404 (also for other accounts' ids). */
export async function loadDeploy(deps: DomainDeps, caller: Caller, deployId: string): Promise<DeployRecord> {
  const d = await deps.db.deploys.get(caller.accountId, deployId);
  if (!d) throw Errors.deployNotFound(`Deploy ${deployId} does not exist or has been deleted.`);
  return d;
}

/** Inserts a deploy; shared by POST /v1/deploys and the inline create of upload sessions. */
export async function insertDeploy(deps: DomainDeps, caller: Caller, input: { slug: string; name: string }): Promise<DeployRecord> {
  const accountId = caller.accountId;
  const now = deps.clock.now();
  const d: DeployRecord = {
    id: newId('dpl', now), accountId, slug: input.slug, name: input.name, createdAt: now, deletedAt: null,
    webhookEnabled: false, webhookUrl: null, webhookSigningSecret: null,
  };
  try {
    await audited(deps, accountId, caller, { action: 'deploy.created', targetType: 'deploy', targetId: d.id, details: { slug: d.slug, name: d.name } },
      (db) => db.deploys.create(d));
  } catch (err) {
    if (err instanceof ConflictError) throw slugConflict(input.slug);
    throw err;
  }
  return d;
}

export async function createDeploy(deps: DomainDeps, caller: Caller, input: { slug: string; name: string }) {
  requireRole(caller, 'editor', 'Creating deploys');
  return { deploy: deployView(await insertDeploy(deps, caller, input)) };
}

export async function listDeploys(deps: DomainDeps, caller: Caller, query: { cursor?: string; limit?: number }) {
  const page = pageRequest(query);
  return toPage(await deps.db.deploys.list(caller.accountId, page), page.limit, deployView);
}

export async function getDeploy(deps: DomainDeps, caller: Caller, deployId: string) {
  const d = await loadDeploy(deps, caller, deployId);
  const [latest, aliases] = await Promise.all([deps.db.versions.latest(d.id), deps.db.aliases.list(d.id)]);
  return { deploy: { ...deployView(d), latestVersionId: latest?.id ?? null, aliases: aliases.map(aliasView) } };
}

export async function patchDeploy(deps: DomainDeps, caller: Caller, deployId: string, input: { slug?: string; name?: string }) {
  requireRole(caller, 'editor', 'Changing deploys');
  await loadDeploy(deps, caller, deployId);
  try {
    await audited(deps, caller.accountId, caller, { action: 'deploy.updated', targetType: 'deploy', targetId: deployId, details: { slug: input.slug, name: input.name } },
      (db) => db.deploys.update(caller.accountId, deployId, { slug: input.slug, name: input.name }));
  } catch (err) {
    if (err instanceof ConflictError) throw slugConflict(input.slug ?? '');
    throw err;
  }
  return { deploy: deployView(await loadDeploy(deps, caller, deployId)) };
}

/**
 * Soft-deletes a deploy: its slug becomes free, aliases, settings and open upload sessions go; versions stay until
 * garbage collection releases their blobs. Hooks (e.g. cancelling render jobs) run after the delete.
 */
export async function deleteDeploy(deps: DomainDeps, caller: Caller, deployId: string, onDeleted?: (deployId: string) => Promise<void>) {
  requireRole(caller, 'editor', 'Deleting deploys');
  await loadDeploy(deps, caller, deployId);
  await audited(deps, caller.accountId, caller, { action: 'deploy.deleted', targetType: 'deploy', targetId: deployId },
    (db) => db.deploys.markDeleted(caller.accountId, deployId, deps.clock.now()));
  await onDeleted?.(deployId);
}

// ---- versions ----

export async function loadVersion(deps: DomainDeps, deploy: DeployRecord, versionId: string): Promise<DeployVersionRecord> {
  const v = await deps.db.versions.get(deploy.id, versionId);
  if (!v) throw Errors.deployVersionNotFound(`Deploy ${deploy.id} has no version ${versionId}.`);
  return v;
}

export async function listVersions(deps: DomainDeps, caller: Caller, deployId: string, query: { cursor?: string; limit?: number }) {
  const d = await loadDeploy(deps, caller, deployId);
  const page = pageRequest(query);
  return toPage(await deps.db.versions.list(d.id, page), page.limit, versionView);
}

export async function getVersion(deps: DomainDeps, caller: Caller, deployId: string, versionId: string) {
  const d = await loadDeploy(deps, caller, deployId);
  return { deployVersion: versionView(await loadVersion(deps, d, versionId)) };
}

/** Files are listed in path order; the cursor is the last path shown (opaque to clients). */
export async function listVersionFiles(deps: DomainDeps, caller: Caller, deployId: string, versionId: string, query: { cursor?: string; limit?: number }) {
  const d = await loadDeploy(deps, caller, deployId);
  const v = await loadVersion(deps, d, versionId);
  const limit = Math.min(query.limit ?? 100, MAX_LIMIT);
  let afterPath: string | undefined;
  if (query.cursor) {
    try {
      afterPath = Buffer.from(query.cursor, 'base64url').toString('utf8');
      if (!afterPath.startsWith('p:')) throw new Error();
      afterPath = afterPath.slice(2);
    } catch {
      throw Errors.invalidQueryParam('cursor is not a cursor returned by this API; pass nextCursor from a previous page unchanged.');
    }
  }
  const rows = await deps.db.versions.listFiles(v.id, { limit, afterPath });
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  return { items, nextCursor: more ? Buffer.from(`p:${items[items.length - 1].path}`).toString('base64url') : null };
}

/**
 * Resolves what a render job names: a `dv_` id, `latest`, or an alias name. Always returns a concrete version.
 */
export async function resolveVersion(deps: DomainDeps, deploy: DeployRecord, ref: string): Promise<DeployVersionRecord> {
  if (ref === 'latest') {
    const v = await deps.db.versions.latest(deploy.id);
    if (!v) throw Errors.deployVersionNotFound(`Deploy ${deploy.id} has no committed version yet; commit an upload session first.`);
    return v;
  }
  if (ref.startsWith('dv_')) return loadVersion(deps, deploy, ref);
  const alias = await deps.db.aliases.get(deploy.id, ref);
  if (!alias) throw Errors.deployVersionNotFound(`Deploy ${deploy.id} has no version or alias named "${ref}".`);
  return loadVersion(deps, deploy, alias.deployVersionId);
}

// ---- aliases ----

export function checkAliasName(name: string) {
  if (name === 'latest') throw Errors.invalidPathParam('"latest" is a virtual alias for the newest version and cannot be set.');
  if (!SLUG_RE.test(name)) throw Errors.invalidPathParam(`Alias names match ${SLUG_PATTERN}.`);
}

/** `production` needs admin; any other alias needs editor. */
export function requireAliasRole(caller: Caller, name: string) {
  requireRole(caller, name === 'production' ? 'admin' : 'editor', `Changing the "${name}" alias`);
}

export async function putAlias(deps: DomainDeps, caller: Caller, deployId: string, name: string, deployVersionId: string) {
  checkAliasName(name);
  requireAliasRole(caller, name);
  const d = await loadDeploy(deps, caller, deployId);
  await loadVersion(deps, d, deployVersionId);
  const alias: AliasRecord = { deployId: d.id, name, deployVersionId, updatedAt: deps.clock.now() };
  await audited(deps, caller.accountId, caller, { action: 'alias.updated', targetType: 'deploy', targetId: d.id, details: { alias: name, deployVersionId } },
    (db) => db.aliases.put(alias));
  return { alias: aliasView(alias) };
}

export async function listAliases(deps: DomainDeps, caller: Caller, deployId: string) {
  const d = await loadDeploy(deps, caller, deployId);
  return { items: (await deps.db.aliases.list(d.id)).map(aliasView), nextCursor: null };
}

export async function deleteAlias(deps: DomainDeps, caller: Caller, deployId: string, name: string) {
  checkAliasName(name);
  requireAliasRole(caller, name);
  const d = await loadDeploy(deps, caller, deployId);
  await audited(deps, caller.accountId, caller, { action: 'alias.deleted', targetType: 'deploy', targetId: d.id, details: { alias: name } }, async (db) => {
    if (!(await db.aliases.delete(d.id, name))) throw Errors.aliasNotFound(`Deploy ${deployId} has no alias "${name}".`);
  });
}

// ---- settings ----

export async function getSettings(deps: DomainDeps, caller: Caller, deployId: string) {
  const d = await loadDeploy(deps, caller, deployId);
  return settingsView(deps, d);
}

async function settingsView(deps: DomainDeps, d: DeployRecord, revealedSecret?: string) {
  const vars = await deps.db.deploys.listVars(d.id);
  const env: Record<string, string> = {};
  const secrets: string[] = [];
  for (const v of vars) {
    if (v.kind === 'env') env[v.name] = v.value;
    else secrets.push(v.name);
  }
  return {
    settings: {
      webhook: {
        enabled: d.webhookEnabled,
        url: d.webhookUrl,
        signingSecretPreview: d.webhookSigningSecret ? maskSecret(deps.secretBox.decrypt(d.webhookSigningSecret)) : null,
        ...(revealedSecret ? { signingSecret: revealedSecret } : {}),
      },
      env,
      secrets,
    },
  };
}

/**
 * The deploy's own webhook secret (spec §9.2): `enable` creates one if the deploy has none, `rotate` replaces it
 * (either way a new secret is shown once, in that response); `disable` and its synonym `clear` remove it, so the
 * account's secret signs again.
 */
export const SIGNING_SECRET_ACTIONS = ['enable', 'rotate', 'disable', 'clear'] as const;
export type SigningSecretAction = (typeof SIGNING_SECRET_ACTIONS)[number];

export interface SettingsPatch {
  webhook?: { enabled?: boolean; url?: string | null; signingSecretAction?: SigningSecretAction };
  env?: Record<string, string | null>;
  secrets?: Record<string, string | null>;
}

/** Checks a webhook URL: https (or http) and, unless the operator allows it, a public address. */
export async function checkWebhookUrl(deps: DomainDeps, url: string) {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw Errors.invalidInput(`webhook.url "${url}" is not a valid URL.`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw Errors.invalidInput('webhook.url must be an http(s) URL.');
  if (u.username || u.password) throw Errors.invalidInput('webhook.url must not contain credentials.');
  const decision = await deps.outbound.check(u, { allowPrivate: deps.settings.webhookAllowPrivate });
  if (!decision.allowed) {
    throw Errors.invalidInput(
      `webhook.url host "${u.hostname}" does not resolve to a public address (${decision.reason}); loopback, private and link-local addresses are refused (operators can set PRESS_WEBHOOK_ALLOW_PRIVATE=true for development).`,
    );
  }
}

export async function patchSettings(deps: DomainDeps, caller: Caller, deployId: string, input: SettingsPatch) {
  requireRole(caller, 'editor', 'Changing deploy settings');
  const d = await loadDeploy(deps, caller, deployId);
  const patch: Partial<DeployRecord> = {};
  let revealed: string | undefined;
  const wh = input.webhook;
  if (wh) {
    if (wh.url !== undefined && wh.url !== null) await checkWebhookUrl(deps, wh.url);
    if (wh.url !== undefined) patch.webhookUrl = wh.url;
    if (wh.enabled !== undefined) patch.webhookEnabled = wh.enabled;
    const url = wh.url !== undefined ? wh.url : d.webhookUrl;
    const enabled = wh.enabled !== undefined ? wh.enabled : d.webhookEnabled;
    if (enabled && !url) throw Errors.invalidInput('webhook.enabled needs a webhook.url.');
    const action = wh.signingSecretAction;
    if (action === 'rotate' || (action === 'enable' && d.webhookSigningSecret === null)) {
      revealed = newSecret('whsec');
      patch.webhookSigningSecret = deps.secretBox.encrypt(revealed);
    } else if (action === 'disable' || action === 'clear') {
      patch.webhookSigningSecret = null;
    }
  }
  const changes: { kind: 'env' | 'secret'; name: string; value: string | null }[] = [];
  for (const [kind, map] of [['env', input.env], ['secret', input.secrets]] as const) {
    for (const [name, value] of Object.entries(map ?? {})) {
      if (!new RegExp(VAR_NAME_PATTERN).test(name)) throw Errors.invalidInput(`${kind} name "${name}" must match ${VAR_NAME_PATTERN}.`);
      if (value !== null && Buffer.byteLength(value) > MAX_VAR_VALUE_BYTES) throw Errors.invalidInput(`${kind} ${name} is over ${MAX_VAR_VALUE_BYTES} bytes.`);
      changes.push({ kind, name, value: value === null || kind === 'env' ? value : deps.secretBox.encrypt(value) });
    }
  }
  if (changes.length) {
    const existing = await deps.db.deploys.listVars(d.id);
    for (const kind of ['env', 'secret'] as const) {
      const names = new Set(existing.filter((v) => v.kind === kind).map((v) => v.name));
      for (const c of changes.filter((c) => c.kind === kind)) {
        if (c.value === null) names.delete(c.name);
        else names.add(c.name);
      }
      if (names.size > MAX_VARS_PER_KIND) throw Errors.invalidInput(`A deploy can have at most ${MAX_VARS_PER_KIND} ${kind === 'env' ? 'env vars' : 'secrets'}.`);
    }
  }
  // names only: values (secrets above all) never reach the audit log
  const events: AuditEvent[] = [];
  if (wh) events.push({ action: 'deploy.webhook_updated', targetType: 'deploy', targetId: d.id, details: { url: wh.url, enabled: wh.enabled, signingSecretAction: wh.signingSecretAction } });
  const named = (kind: 'env' | 'secret') => ({ set: changes.filter((c) => c.kind === kind && c.value !== null).map((c) => c.name), removed: changes.filter((c) => c.kind === kind && c.value === null).map((c) => c.name) });
  if (changes.some((c) => c.kind === 'env')) events.push({ action: 'deploy.env_updated', targetType: 'deploy', targetId: d.id, details: named('env') });
  if (changes.some((c) => c.kind === 'secret')) events.push({ action: 'deploy.secrets_updated', targetType: 'deploy', targetId: d.id, details: named('secret') });
  await audited(deps, caller.accountId, caller, events, async (db) => {
    await db.deploys.update(caller.accountId, d.id, patch);
    if (changes.length) await db.deploys.writeVars(d.id, changes);
  });
  return settingsView(deps, await loadDeploy(deps, caller, deployId), revealed);
}

/** env and decrypted secrets for a render (never returned by the API). */
export async function renderEnvironment(deps: DomainDeps, deployId: string) {
  const env: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  for (const v of await deps.db.deploys.listVars(deployId)) {
    if (v.kind === 'env') env[v.name] = v.value;
    else secrets[v.name] = deps.secretBox.decrypt(v.value);
  }
  return { env, secrets };
}
