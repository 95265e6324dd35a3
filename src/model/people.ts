/*
 * Records of the people side (spec §10): users, their sign-in sessions, the one-time setup link, memberships of
 * workspaces (= accounts), invitations and the audit log. Timestamps are epoch milliseconds; every secret token is
 * stored as its SHA-256 hash only.
 */

/** Roles held by memberships, strongest first. API keys carry one of the last three. */
export const MEMBER_ROLES = ['owner', 'admin', 'editor', 'viewer'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

export interface UserRecord {
  id: string;
  /** lower-cased; unique */
  email: string;
  name: string;
  /** `scrypt$<logN>$<r>$<p>$<salt>$<hash>` (see domain/passwords) */
  passwordHash: string;
  createdAt: number;
  passwordChangedAt: number;
}

export interface SessionRecord {
  id: string;
  userId: string;
  tokenHash: string;
  createdAt: number;
  /** updated at most once a minute */
  lastSeenAt: number;
  expiresAt: number;
  userAgent: string | null;
  ip: string | null;
}

export interface SetupTokenRecord {
  tokenHash: string;
  createdAt: number;
  expiresAt: number;
}

export interface MembershipRecord {
  id: string;
  accountId: string;
  userId: string;
  role: MemberRole;
  createdAt: number;
}

/** A membership with its user, as member lists show it. */
export interface MemberRecord extends MembershipRecord {
  email: string;
  name: string;
}

/** A membership with its workspace, as "my workspaces" shows it. */
export interface WorkspaceMembershipRecord extends MembershipRecord {
  workspaceName: string;
  planKey: string;
  personalUserId: string | null;
  workspaceCreatedAt: number;
}

export interface InvitationRecord {
  id: string;
  accountId: string;
  /** lower-cased */
  email: string;
  role: Exclude<MemberRole, 'owner'>;
  tokenHash: string;
  invitedByUserId: string | null;
  createdAt: number;
  expiresAt: number;
  acceptedAt: number | null;
  acceptedByUserId: string | null;
  revokedAt: number | null;
}

export type AuditActorType = 'user' | 'api_key' | 'operator';

export interface AuditEntryRecord {
  id: string;
  accountId: string;
  /** `<resource>.<verb>`, e.g. `api_key.created`, `member.role_changed` */
  action: string;
  actorType: AuditActorType;
  /** user id, API key id, or null for the operator CLI */
  actorId: string | null;
  /** for a key: the user the key acts for */
  actorUserId: string | null;
  targetType: string;
  targetId: string;
  requestId: string | null;
  /** JSON object of non-secret details (old/new role, name, …) */
  details: string;
  createdAt: number;
}

export interface AuditFilter {
  actorId?: string;
  action?: string;
  targetId?: string;
  /** createdAt >= from */
  from?: number;
  /** createdAt < to */
  to?: number;
}
