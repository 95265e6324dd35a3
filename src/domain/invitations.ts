import type { InvitationRecord, MemberRole, UserRecord } from '../model/people.js';
import { audited, auditEntry } from './audit.js';
import { requireRole, type Caller, type DomainDeps } from './context.js';
import { hashToken } from './crypto.js';
import { ConflictError } from '../model/errors.js';
import { Errors } from './errors.js';
import { newId, newSecret } from './ids.js';
import { pageRequest, toPage } from './pagination.js';
import { createUser, normalizeEmail, startSession, type SessionMeta } from './users.js';
import { checkMemberLimit, membership } from './workspaces.js';

/*
 * Invitations (§10): a random token stored hashed, valid 7 days, revocable. The link goes back to the inviting admin
 * and, when the operator configured SMTP, by e-mail to the invitee. Accepting makes the invitee a member: a signed-in
 * user whose e-mail matches, or a new user created with the invited e-mail address.
 */

export const INVITATION_TTL_MS = 7 * 24 * 3_600_000;
type InvitedRole = Exclude<MemberRole, 'owner'>;

export function invitationView(i: InvitationRecord) {
  return {
    id: i.id, email: i.email, role: i.role, invitedByUserId: i.invitedByUserId, createdAt: i.createdAt, expiresAt: i.expiresAt,
  };
}

/** Where the dashboard accepts invitations; the token rides in the fragment, so it never reaches a server log. */
export function invitationUrl(deps: DomainDeps, token: string): string {
  return `${deps.settings.publicUrl}/accept-invitation#token=${token}`;
}

/** `POST /v1/invitations` (admin). */
export async function createInvitation(deps: DomainDeps, caller: Caller, input: { email: string; role: InvitedRole }, log?: { warn(o: object, m: string): void }) {
  requireRole(caller, 'admin', 'Inviting members');
  const email = normalizeEmail(input.email);
  const existing = await deps.db.users.getByEmail(email);
  if (existing && (await deps.db.memberships.get(caller.accountId, existing.id))) {
    throw Errors.alreadyMember(`${email} is already a member of this workspace.`);
  }
  await checkMemberLimit(deps, caller.accountId, 1);
  const now = deps.clock.now();
  const token = newSecret('pcinv');
  const invitation: InvitationRecord = {
    id: newId('inv', now), accountId: caller.accountId, email, role: input.role, tokenHash: hashToken(token),
    invitedByUserId: caller.userId ?? null, createdAt: now, expiresAt: now + INVITATION_TTL_MS, acceptedAt: null,
    acceptedByUserId: null, revokedAt: null,
  };
  await audited(deps, caller.accountId, caller, { action: 'invitation.created', targetType: 'invitation', targetId: invitation.id, details: { email, role: input.role } },
    (db) => db.invitations.create(invitation));
  const url = invitationUrl(deps, token);
  let emailSent = false;
  if (deps.mailer) {
    const workspace = await deps.db.accounts.get(caller.accountId);
    try {
      await deps.mailer.send({
        to: email,
        subject: `You are invited to ${workspace?.name ?? 'a workspace'} on Press Cloud`,
        text: `You have been invited to join the workspace "${workspace?.name}" on Press Cloud as ${input.role}.\n\n` +
          `Accept the invitation: ${url}\n\nThe link works once and expires in 7 days.\n`,
      });
      emailSent = true;
    } catch (err) {
      // the invitation stands: the admin has the link and can pass it on
      log?.warn({ err, invitationId: invitation.id }, 'invitation e-mail not sent');
    }
  }
  return { invitation: invitationView(invitation), url, emailSent };
}

export async function listInvitations(deps: DomainDeps, caller: Caller, query: { cursor?: string; limit?: number }) {
  requireRole(caller, 'admin', 'Listing invitations');
  const page = pageRequest(query);
  return toPage(await deps.db.invitations.listPending(caller.accountId, deps.clock.now(), page), page.limit, invitationView);
}

/** `DELETE /v1/invitations/{id}` (admin): the link stops working. */
export async function revokeInvitation(deps: DomainDeps, caller: Caller, id: string) {
  requireRole(caller, 'admin', 'Revoking invitations');
  const i = await deps.db.invitations.get(caller.accountId, id);
  if (!i || i.acceptedAt !== null || i.revokedAt !== null) throw Errors.invitationNotFound(`No pending invitation ${id} in this workspace.`);
  await audited(deps, caller.accountId, caller, { action: 'invitation.revoked', targetType: 'invitation', targetId: id, details: { email: i.email } }, async (db) => {
    if (!(await db.invitations.revoke(caller.accountId, id, deps.clock.now()))) throw Errors.invitationNotFound(`No pending invitation ${id} in this workspace.`);
  });
}

async function pendingByToken(deps: DomainDeps, token: string): Promise<InvitationRecord> {
  const i = /^pcinv_[A-Za-z0-9_-]{20,128}$/.test(token) ? await deps.db.invitations.getByHash(hashToken(token)) : null;
  if (!i || i.acceptedAt !== null || i.revokedAt !== null) throw Errors.invitationNotFound('This invitation link is unknown, used or revoked; ask for a new one.');
  if (i.expiresAt <= deps.clock.now()) throw Errors.invitationExpired('This invitation expired (links last 7 days); ask for a new one.');
  return i;
}

/** `POST /v1/invitations/preview`: what the accept page shows before the invitee decides. */
export async function previewInvitation(deps: DomainDeps, token: string) {
  const i = await pendingByToken(deps, token);
  const workspace = await deps.db.accounts.get(i.accountId);
  return {
    workspace: { id: i.accountId, name: workspace?.name ?? '' }, email: i.email, role: i.role, expiresAt: i.expiresAt,
    userExists: (await deps.db.users.getByEmail(i.email)) !== null,
  };
}

/**
 * `POST /v1/invitations/accept`. Signed in: the session's user joins (their e-mail must be the invited one). Not
 * signed in: a new user with the invited e-mail and the given password joins and is signed in; an e-mail that
 * already has a user must sign in first.
 */
export async function acceptInvitation(
  deps: DomainDeps,
  input: { token: string; password?: string; name?: string },
  signedIn: UserRecord | null,
  meta: SessionMeta,
) {
  const i = await pendingByToken(deps, input.token);
  let user = signedIn;
  if (user && user.email !== i.email) {
    throw Errors.invitationEmailMismatch(`This invitation is for ${i.email}; you are signed in as ${user.email}. Sign out and accept it as ${i.email}.`);
  }
  if (!user) {
    if (await deps.db.users.getByEmail(i.email)) throw Errors.emailTaken(`${i.email} already has a user; sign in, then accept the invitation.`);
    if (!input.password) throw Errors.invalidInput('password is required to create your user (or sign in first if you have one).');
  }
  // checked before a user is made, so a workspace over its limit (plan changed since the invitation) leaves none behind
  await checkMemberLimit(deps, i.accountId, 0);
  if (!user) {
    user = (await createUser(deps, { email: i.email, password: input.password ?? '', name: input.name }, { actor: { operator: true, userId: null } })).user;
  }
  const now = deps.clock.now();
  const joined = user;
  const accepted = await deps.db.transaction(async (db) => {
    try {
      if (!(await db.invitations.accept(i.id, membership(i.accountId, joined.id, i.role, now), now))) return false;
    } catch (err) {
      if (err instanceof ConflictError) throw Errors.alreadyMember(`${joined.email} is already a member of this workspace.`, { cause: err });
      throw err;
    }
    await db.audit.record(auditEntry(deps, i.accountId, { operator: true, userId: joined.id },
      { action: 'member.added', targetType: 'user', targetId: joined.id, details: { role: i.role, invitationId: i.id } }));
    return true;
  });
  if (!accepted) throw Errors.invitationNotFound('This invitation was used or revoked meanwhile; ask for a new one.');
  const started = signedIn ? null : await startSession(deps, joined, meta);
  return { workspaceId: i.accountId, role: i.role, user: joined, started };
}
