import { randomBytes } from 'node:crypto';
import type { AccountRecord } from '../model/records.js';
import type { Transactional } from '../ports/database.js';
import type { MemberRecord, MemberRole, MembershipRecord, UserRecord, WorkspaceMembershipRecord } from '../model/people.js';
import { audited, auditEntry, type Actor } from './audit.js';
import { requireEnabledAccount } from './accounts.js';
import { requireRole, type Caller, type DomainDeps } from './context.js';
import { ConflictError } from '../model/errors.js';
import { Errors } from './errors.js';
import { newId, newSecret } from './ids.js';
import { pageRequest, toPage } from './pagination.js';
import { deleteUnheldBlob } from './uploads.js';
import { MEMBER_LIMITS, PLANS, type PlanKey } from './policy.js';

/*
 * Workspaces are the accounts of §2 (the tenant boundary); users reach them through memberships with one role each
 * (§10): owner > admin > editor > viewer. Every workspace has exactly one owner once it has members; a workspace
 * made before users existed has none until the setup link or `press-cloud users create --workspace` gives it one.
 */

export function workspaceView(m: WorkspaceMembershipRecord) {
  return {
    id: m.accountId,
    name: m.workspaceName,
    plan: { key: m.planKey, name: PLANS[m.planKey as PlanKey]?.name ?? m.planKey },
    personal: m.personalUserId !== null,
    role: m.role,
    createdAt: m.workspaceCreatedAt,
  };
}

export function memberView(m: MemberRecord) {
  return { userId: m.userId, email: m.email, name: m.name, role: m.role, createdAt: m.createdAt };
}

export function membership(accountId: string, userId: string, role: MemberRole, now: number): MembershipRecord {
  return { id: newId('mem', now), accountId, userId, role, createdAt: now };
}

/** The account record of a new workspace; a taken name is 409 workspace_name_taken. */
async function insertWorkspace(deps: DomainDeps, db: Transactional, name: string, owner: UserRecord, personal: boolean): Promise<AccountRecord> {
  const now = deps.clock.now();
  const account: AccountRecord = {
    id: newId('acct', now),
    name,
    planKey: deps.settings.defaultPlan,
    webhookSigningSecret: deps.secretBox.encrypt(newSecret('whsec')),
    createdAt: now,
    personalUserId: personal ? owner.id : null,
    disabledAt: null,
  };
  try {
    await db.accounts.create(account);
  } catch (err) {
    if (err instanceof ConflictError) throw Errors.workspaceNameTaken(`A workspace named "${name}" already exists; choose another name.`, { cause: err });
    throw err;
  }
  await db.memberships.create(membership(account.id, owner.id, 'owner', now));
  return account;
}

/**
 * The user's personal workspace, named after their e-mail address (workspace names are unique, and so are e-mail
 * addresses; should someone have taken it as a team name, a short suffix makes it unique).
 */
export async function createPersonalWorkspace(deps: DomainDeps, db: Transactional, user: UserRecord, actor: Actor): Promise<AccountRecord> {
  for (let attempt = 0; ; attempt++) {
    const name = attempt === 0 ? user.email : `${user.email} (${randomBytes(3).toString('hex')})`;
    try {
      const account = await insertWorkspace(deps, db, name, user, true);
      await db.audit.record(auditEntry(deps, account.id, actor, { action: 'workspace.created', targetType: 'workspace', targetId: account.id, details: { name, personal: true } }));
      return account;
    } catch (err) {
      if (attempt >= 3 || (err as { code?: string }).code !== 'workspace_name_taken') throw err;
    }
  }
}

/** `POST /v1/workspaces`: a team workspace owned by the signed-in user. */
export async function createWorkspace(deps: DomainDeps, user: UserRecord, actor: Actor, input: { name: string }) {
  const account = await deps.db.transaction(async (db) => {
    const a = await insertWorkspace(deps, db, input.name, user, false);
    await db.audit.record(auditEntry(deps, a.id, actor, { action: 'workspace.created', targetType: 'workspace', targetId: a.id, details: { name: a.name } }));
    return a;
  });
  return workspaceView(toWorkspaceMembership(account, user.id, 'owner'));
}

function toWorkspaceMembership(a: AccountRecord, userId: string, role: MemberRole): WorkspaceMembershipRecord {
  return {
    id: '', accountId: a.id, userId, role, createdAt: a.createdAt, workspaceName: a.name, planKey: a.planKey,
    personalUserId: a.personalUserId ?? null, workspaceCreatedAt: a.createdAt,
  };
}

/** `GET /v1/workspaces`: the signed-in user's workspaces, or the API key's one. */
export async function listWorkspaces(deps: DomainDeps, caller: { userId: string } | Caller, query: { cursor?: string; limit?: number }) {
  const page = pageRequest(query);
  if ('keyId' in caller && caller.keyId) {
    const a = await deps.db.accounts.get(caller.accountId);
    return { items: page.after || !a ? [] : [workspaceView(toWorkspaceMembership(a, caller.userId ?? '', caller.role))], nextCursor: null };
  }
  return toPage(await deps.db.memberships.listForUser(caller.userId!, page), page.limit, workspaceView);
}

/** The caller's view of their current workspace (`GET /v1/workspaces/{id}` once resolved). */
export async function getWorkspace(deps: DomainDeps, caller: Caller) {
  const a = await deps.db.accounts.get(caller.accountId);
  if (!a) throw Errors.workspaceNotFound(`No workspace ${caller.accountId}.`);
  return workspaceView(toWorkspaceMembership(a, caller.userId ?? '', caller.role));
}

/** `PATCH /v1/workspaces/{id}` (admin): rename. */
export async function renameWorkspace(deps: DomainDeps, caller: Caller, input: { name?: string }) {
  requireRole(caller, 'admin', 'Renaming the workspace');
  if (input.name !== undefined) {
    const name = input.name;
    await audited(deps, caller.accountId, caller, { action: 'workspace.renamed', targetType: 'workspace', targetId: caller.accountId, details: { name } }, async (db) => {
      try {
        await db.accounts.update(caller.accountId, { name });
      } catch (err) {
        if (err instanceof ConflictError) throw Errors.workspaceNameTaken(`A workspace named "${name}" already exists; choose another name.`, { cause: err });
        throw err;
      }
    });
  }
  return getWorkspace(deps, caller);
}

/**
 * `DELETE /v1/workspaces/{id}` (owner, signed in): deletes a team workspace and everything in it. `confirm` must be
 * the workspace's name, typed. Unfinished render jobs are canceled first (a render in progress stops: its worker sees
 * the cancel), then every row goes in one transaction (keys answer 401 from then on), then the blob store's objects:
 * outputs and managed PDFs, and content blobs no other workspace holds. The workspace's own audit log goes with it;
 * the `workspace.deleted` entry is written to the deleting owner's personal workspace, which cannot be deleted.
 * Returns that personal workspace, where the owner continues.
 */
export async function deleteWorkspace(deps: DomainDeps, caller: Caller, input: { confirm: string }) {
  requireRole(caller, 'owner', 'Deleting the workspace');
  const a = await deps.db.accounts.get(caller.accountId);
  if (!a) throw Errors.workspaceNotFound(`No workspace ${caller.accountId}.`);
  if (a.personalUserId) throw Errors.personalWorkspaceNotDeletable('A personal workspace belongs to its user and cannot be deleted; delete a team workspace instead.');
  if (input.confirm !== a.name) throw Errors.invalidInput(`body/confirm must be the workspace's name, exactly: "${a.name}".`);
  const personal = caller.userId ? await deps.db.accounts.getPersonal(caller.userId) : null;
  if (!personal) throw Errors.sessionRequired('Deleting a workspace needs a signed-in user with a personal workspace.');
  const started = deps.clock.now();
  const canceledRenderJobs = await deps.db.renderJobs.cancelForAccount(a.id, started);
  const held = await audited(deps, personal.id, caller,
    { action: 'workspace.deleted', targetType: 'workspace', targetId: a.id, details: { name: a.name, canceledRenderJobs } },
    (db) => db.accounts.delete(a.id));
  if (!held) throw Errors.workspaceNotFound(`Workspace ${a.id} was deleted meanwhile.`);
  for (const key of held.outputKeys) await deps.blobs.delete(key);
  for (const sha of held.blobSha256s) await deleteUnheldBlob(deps, sha, deps.clock.now());
  return workspaceView(toWorkspaceMembership(personal, caller.userId!, 'owner'));
}

/**
 * Resolves the caller for a signed-in user acting in `workspaceId`: their membership decides the role. A workspace
 * they are not a member of is 404, exactly like one that does not exist.
 */
export async function memberCaller(deps: DomainDeps, userId: string, workspaceId: string, requestId: string | null): Promise<Caller> {
  const m = await deps.db.memberships.get(workspaceId, userId);
  if (!m) throw Errors.workspaceNotFound(`No workspace ${workspaceId} among yours; GET /v1/workspaces lists them.`);
  await requireEnabledAccount(deps, workspaceId);
  return { accountId: workspaceId, role: m.role, keyId: null, userId, requestId };
}

// ---- members ----

export async function listMembers(deps: DomainDeps, caller: Caller, query: { cursor?: string; limit?: number }) {
  const page = pageRequest(query);
  return toPage(await deps.db.memberships.listMembers(caller.accountId, page), page.limit, memberView);
}

async function existingMember(deps: DomainDeps, caller: Caller, userId: string): Promise<MembershipRecord> {
  const m = await deps.db.memberships.get(caller.accountId, userId);
  if (!m) throw Errors.memberNotFound(`No member ${userId} in this workspace.`);
  return m;
}


/** `PATCH /v1/members/{userId}` (admin): change a member's role; the owner's role changes only by a transfer. */
export async function changeMemberRole(deps: DomainDeps, caller: Caller, userId: string, role: Exclude<MemberRole, 'owner'>) {
  requireRole(caller, 'admin', 'Changing member roles');
  const m = await existingMember(deps, caller, userId);
  if (m.role === 'owner') throw Errors.ownerRequired('The owner\'s role changes only by transferring ownership (POST /v1/workspaces/{workspaceId}/transfer-ownership).');
  if (m.role !== role) {
    await audited(deps, caller.accountId, caller, { action: 'member.role_changed', targetType: 'user', targetId: userId, details: { from: m.role, to: role } },
      (db) => db.memberships.setRole(caller.accountId, userId, role));
  }
  return { ...m, role };
}

/**
 * `DELETE /v1/members/{userId}`: an admin removes a member, or any member leaves. The owner cannot be removed
 * (transfer ownership first). Their API keys in this workspace stop working at once (keys act with the creator's
 * current membership).
 */
export async function removeMember(deps: DomainDeps, caller: Caller, userId: string) {
  if (userId !== caller.userId) requireRole(caller, 'admin', 'Removing members');
  const m = await existingMember(deps, caller, userId);
  if (m.role === 'owner') throw Errors.ownerRequired('A workspace keeps its owner; transfer ownership to another member first.');
  await audited(deps, caller.accountId, caller, { action: 'member.removed', targetType: 'user', targetId: userId, details: { role: m.role } },
    (db) => db.memberships.delete(caller.accountId, userId));
}

/** `POST /v1/workspaces/{id}/transfer-ownership` (owner): another member becomes owner, the old owner an admin. */
export async function transferOwnership(deps: DomainDeps, caller: Caller, toUserId: string) {
  requireRole(caller, 'owner', 'Transferring ownership');
  const target = await existingMember(deps, caller, toUserId);
  if (target.userId === caller.userId) return getWorkspace(deps, caller);
  const a = await deps.db.accounts.get(caller.accountId);
  if (a?.personalUserId) throw Errors.invalidInput('A personal workspace stays with its user; create a team workspace to share ownership.');
  const done = await audited(deps, caller.accountId, caller,
    { action: 'workspace.ownership_transferred', targetType: 'user', targetId: toUserId, details: { from: caller.userId, to: toUserId } },
    (db) => db.memberships.transferOwnership(caller.accountId, caller.userId!, toUserId));
  if (!done) throw Errors.memberNotFound(`Member ${toUserId} changed meanwhile; reload the members and try again.`);
  return getWorkspace(deps, { ...caller, role: 'admin' });
}

/**
 * Operator CLI (`press-cloud users create --workspace`): adds a user to a workspace. As owner only where the
 * workspace has none yet (an account from before users existed); its keys without a creator become the owner's.
 */
export async function addMemberAsOperator(deps: DomainDeps, accountId: string, userId: string, role: MemberRole) {
  const actor = { operator: true as const, userId: null };
  const event = { action: 'member.added', targetType: 'user', targetId: userId, details: { role, via: 'cli' } };
  if (role === 'owner') {
    if (await deps.db.memberships.owner(accountId)) throw Errors.ownerRequired('This workspace already has an owner; pass --role admin (or another role), or transfer ownership in the dashboard.');
    await audited(deps, accountId, actor, event, (db) => db.memberships.createOwner(membership(accountId, userId, 'owner', deps.clock.now())));
    return;
  }
  await checkMemberLimit(deps, accountId, 1);
  await audited(deps, accountId, actor, event, (db) => db.memberships.create(membership(accountId, userId, role, deps.clock.now())));
}

/** Plan limit on members (§10); invitations still pending count, so accepting one never breaks the limit. */
export async function checkMemberLimit(deps: DomainDeps, accountId: string, adding: number) {
  const a = await deps.db.accounts.get(accountId);
  const limit = a ? MEMBER_LIMITS[a.planKey] : null;
  if (limit === null) return;
  const now = deps.clock.now();
  const used = (await deps.db.memberships.count(accountId)) + (await deps.db.invitations.countPending(accountId, now));
  if (used + adding > limit) {
    throw Errors.memberLimitExceeded(`The ${PLANS[a!.planKey].name} plan allows ${limit} member${limit === 1 ? '' : 's'} per workspace (pending invitations count); upgrade the plan or remove a member.`);
  }
}

