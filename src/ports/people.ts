import type { PageRequest } from '../model/pagination.js';
import type {
  AuditEntryRecord, AuditFilter, InvitationRecord, MemberRecord, MemberRole, MembershipRecord, SessionRecord,
  SetupTokenRecord, UserRecord, WorkspaceMembershipRecord,
} from '../model/people.js';

/*
 * Repositories of the people side (spec §10), part of the persistence port. Like the others: one atomic step per
 * method, `ConflictError` on a unique violation, lists return up to `limit + 1` rows newest first.
 */

export interface UserRepository {
  create(u: UserRecord): Promise<void>;
  get(id: string): Promise<UserRecord | null>;
  /** `email` lower-cased */
  getByEmail(email: string): Promise<UserRecord | null>;
  /** the users of `ids` that exist, in no particular order */
  getMany(ids: readonly string[]): Promise<UserRecord[]>;
  count(): Promise<number>;
  update(id: string, patch: Partial<Pick<UserRecord, 'name' | 'passwordHash' | 'passwordChangedAt'>>): Promise<void>;
}

export interface SessionRepository {
  create(s: SessionRecord): Promise<void>;
  /** a live session (not expired at `now`) */
  getByHash(tokenHash: string, now: number): Promise<SessionRecord | null>;
  touch(id: string, at: number): Promise<void>;
  delete(id: string): Promise<void>;
  /** deletes the user's sessions except `keepId`; returns how many */
  deleteForUser(userId: string, keepId?: string): Promise<number>;
  /** the user's live sessions, newest first */
  listForUser(userId: string, now: number, page: PageRequest): Promise<SessionRecord[]>;
  purgeExpired(now: number): Promise<number>;
}

export interface SetupTokenRepository {
  create(t: SetupTokenRecord): Promise<void>;
  /** deletes every setup token if `tokenHash` is a live one; true when it was (single use, all links die together) */
  consume(tokenHash: string, now: number): Promise<boolean>;
  deleteAll(): Promise<void>;
}

export interface MembershipRepository {
  create(m: MembershipRecord): Promise<void>;
  get(accountId: string, userId: string): Promise<MembershipRecord | null>;
  /** the workspace's owner membership */
  owner(accountId: string): Promise<MembershipRecord | null>;
  count(accountId: string): Promise<number>;
  listMembers(accountId: string, page: PageRequest): Promise<MemberRecord[]>;
  listForUser(userId: string, page: PageRequest): Promise<WorkspaceMembershipRecord[]>;
  setRole(accountId: string, userId: string, role: MemberRole): Promise<void>;
  /**
   * Atomically: `toUserId` (a member) becomes owner, the current owner `fromUserId` becomes admin. False when either
   * membership changed meanwhile.
   */
  transferOwnership(accountId: string, fromUserId: string, toUserId: string): Promise<boolean>;
  delete(accountId: string, userId: string): Promise<boolean>;
  /** Makes `m.userId` the owner of a workspace that has none: the membership, and the workspace's keys without a creator. */
  createOwner(m: MembershipRecord): Promise<void>;
  /**
   * Upgrade path from accounts without users: `userId` becomes owner of every workspace that has no owner, and the
   * keys made before there were users (no creator) become theirs. Returns the workspace ids adopted.
   */
  adoptOwnerless(userId: string, now: number, newId: () => string): Promise<string[]>;
}

export interface InvitationRepository {
  create(i: InvitationRecord): Promise<void>;
  get(accountId: string, id: string): Promise<InvitationRecord | null>;
  getByHash(tokenHash: string): Promise<InvitationRecord | null>;
  /** pending (not accepted, not revoked, not expired at `now`) invitations of the workspace */
  listPending(accountId: string, now: number, page: PageRequest): Promise<InvitationRecord[]>;
  countPending(accountId: string, now: number): Promise<number>;
  /** CAS: revokes a pending invitation; false when it was not pending */
  revoke(accountId: string, id: string, at: number): Promise<boolean>;
  /**
   * Atomically: marks the invitation accepted (only while pending at `now`) and creates the membership. False when
   * it was no longer pending. A `ConflictError` when the user is already a member.
   */
  accept(id: string, membership: MembershipRecord, now: number): Promise<boolean>;
}

export interface AuditLogRepository {
  record(e: AuditEntryRecord): Promise<void>;
  list(accountId: string, filter: AuditFilter, page: PageRequest): Promise<AuditEntryRecord[]>;
}

/** Failed sign-ins per throttle key (`e:<e-mail>`, `a:<address>`), shared by every node on the database. */
export interface LoginFailureRepository {
  record(keys: string[], at: number): Promise<void>;
  /** times of the key's failures at or after `since`, newest first, at most `limit` */
  recent(key: string, since: number, limit: number): Promise<number[]>;
  forget(key: string): Promise<void>;
  /** drops failures before `before`; returns how many */
  purge(before: number): Promise<number>;
}

export interface PeopleRepositories {
  loginFailures: LoginFailureRepository;
  users: UserRepository;
  sessions: SessionRepository;
  setupTokens: SetupTokenRepository;
  memberships: MembershipRepository;
  invitations: InvitationRepository;
  audit: AuditLogRepository;
}
