import { createHmac } from 'node:crypto';
import type { SessionRecord, UserRecord } from '../model/people.js';
import { auditEntry, type Actor } from './audit.js';
import type { DomainDeps } from './context.js';
import { hashToken, safeEqual } from './crypto.js';
import { ConflictError } from '../model/errors.js';
import { Errors } from './errors.js';
import { newId, newSecret } from './ids.js';
import type { LoginThrottle } from './login-throttle.js';
import { pageRequest, toPage } from './pagination.js';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, hashPassword, verifyPassword } from './passwords.js';
import { createPersonalWorkspace } from './workspaces.js';

/*
 * Users sign in with e-mail and password and get a session: a random token in an HttpOnly cookie, stored hashed.
 * Cookie-authenticated writes also need the session's CSRF token (an HMAC of the session id under the server's key,
 * sent back in a header; see docs/api.md). The first user comes from the one-time setup link the server prints on an
 * empty data directory, or from `press-cloud users create`.
 */

export const SESSION_TTL_MS = 14 * 24 * 3_600_000;
/** lastSeenAt is written at most this often per session */
const SESSION_TOUCH_MS = 60_000;
export const SETUP_TOKEN_TTL_MS = 24 * 3_600_000;

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,253}\.[^\s@]{1,63}$/;

export function normalizeEmail(email: string): string {
  const e = email.trim().toLowerCase();
  if (!EMAIL.test(e)) throw Errors.invalidInput(`"${email}" is not an e-mail address.`);
  return e;
}

/** Length is what counts (NIST SP 800-63B): at least 10 characters, any characters, no composition rules. */
export function checkPasswordStrength(password: string): void {
  if (password.length < PASSWORD_MIN_LENGTH) throw Errors.weakPassword(`Passwords need at least ${PASSWORD_MIN_LENGTH} characters.`);
  if (password.length > PASSWORD_MAX_LENGTH) throw Errors.weakPassword(`Passwords may have at most ${PASSWORD_MAX_LENGTH} characters.`);
}

export function userView(u: UserRecord) {
  return { id: u.id, email: u.email, name: u.name, createdAt: u.createdAt };
}

export function sessionView(s: SessionRecord, currentId?: string) {
  return {
    id: s.id, createdAt: s.createdAt, lastSeenAt: s.lastSeenAt, expiresAt: s.expiresAt, userAgent: s.userAgent, ip: s.ip,
    current: s.id === currentId,
  };
}

/**
 * A new user with their personal workspace (owner). `adoptOwnerless`: the first user also becomes owner of every
 * workspace that has none yet (accounts made before users existed) and of the keys made there.
 */
export async function createUser(
  deps: DomainDeps,
  input: { email: string; password: string; name?: string },
  opts: { adoptOwnerless?: boolean; actor?: Actor } = {},
): Promise<{ user: UserRecord; adopted: string[] }> {
  const email = normalizeEmail(input.email);
  checkPasswordStrength(input.password);
  const now = deps.clock.now();
  const user: UserRecord = {
    id: newId('usr', now), email, name: input.name?.trim() || email.split('@')[0],
    passwordHash: await hashPassword(input.password, deps.settings.passwordHashCost), createdAt: now, passwordChangedAt: now,
  };
  const actor = opts.actor ?? { operator: true as const, userId: user.id };
  try {
    return await deps.db.transaction(async (db) => {
      await db.users.create(user);
      await createPersonalWorkspace(deps, db, user, actor);
      const adopted = opts.adoptOwnerless ? await db.memberships.adoptOwnerless(user.id, now, () => newId('mem', now)) : [];
      for (const accountId of adopted) {
        await db.audit.record(auditEntry(deps, accountId, actor, { action: 'member.added', targetType: 'user', targetId: user.id, details: { role: 'owner', via: 'setup' } }));
      }
      return { user, adopted };
    });
  } catch (err) {
    if (err instanceof ConflictError && /email/.test(err.constraint)) throw Errors.emailTaken(`A user with e-mail ${email} already exists; sign in instead.`, { cause: err });
    throw err;
  }
}

// ---- sessions ----

export interface SessionMeta {
  ip: string | null;
  userAgent: string | null;
}

export interface StartedSession {
  token: string;
  session: SessionRecord;
  user: UserRecord;
  csrfToken: string;
}

/** The CSRF token of a session: bound to it and unforgeable without the server's key. */
export function csrfTokenFor(deps: DomainDeps, sessionId: string): string {
  return createHmac('sha256', deps.linkSigningKey).update(`csrf\0${sessionId}`).digest('base64url');
}

export function checkCsrfToken(deps: DomainDeps, sessionId: string, given: string | undefined): void {
  if (!given || !safeEqual(given, csrfTokenFor(deps, sessionId))) {
    throw Errors.csrfTokenInvalid('Cookie-authenticated writes need the X-CSRF-Token header with the csrfToken of GET /v1/session.');
  }
}

export async function startSession(deps: DomainDeps, user: UserRecord, meta: SessionMeta): Promise<StartedSession> {
  const now = deps.clock.now();
  const token = newSecret('pcses');
  const session: SessionRecord = {
    id: newId('ses', now), userId: user.id, tokenHash: hashToken(token), createdAt: now, lastSeenAt: now,
    expiresAt: now + SESSION_TTL_MS, userAgent: meta.userAgent?.slice(0, 300) ?? null, ip: meta.ip,
  };
  await deps.db.sessions.create(session);
  return { token, session, user, csrfToken: csrfTokenFor(deps, session.id) };
}

const SESSION_SHAPE = /^pcses_[A-Za-z0-9_-]{20,128}$/;

/** The live session and user of a cookie's token, or 401 invalid_session. */
export async function resolveSession(deps: DomainDeps, token: string): Promise<{ session: SessionRecord; user: UserRecord }> {
  const now = deps.clock.now();
  const session = SESSION_SHAPE.test(token) ? await deps.db.sessions.getByHash(hashToken(token), now) : null;
  const user = session && (await deps.db.users.get(session.userId));
  if (!session || !user) throw Errors.invalidSession('The session has ended (signed out, expired or revoked); sign in again.');
  if (now - session.lastSeenAt > SESSION_TOUCH_MS) await deps.db.sessions.touch(session.id, now);
  return { session, user };
}

let dummyHash: Promise<string> | null = null;

/**
 * `POST /v1/sessions`. Unknown e-mail and wrong password answer the same 401 after the same work (a hash is checked
 * either way), so e-mail addresses cannot be probed; the throttle refuses before any work once it trips.
 */
export async function signIn(deps: DomainDeps, throttle: LoginThrottle, input: { email: string; password: string }, meta: SessionMeta): Promise<StartedSession> {
  const email = input.email.trim().toLowerCase();
  const address = meta.ip ?? 'unknown';
  const wait = await throttle.retryAfterSeconds(email, address);
  if (wait > 0) {
    throw Errors.loginThrottled(`Too many failed sign-ins; try again in ${wait} s.`, { headers: { 'retry-after': String(wait) } });
  }
  const user = await deps.db.users.getByEmail(email);
  dummyHash ??= hashPassword('not a password of anyone', deps.settings.passwordHashCost);
  const ok = await verifyPassword(input.password, user?.passwordHash ?? (await dummyHash));
  if (!user || !ok) {
    await throttle.fail(email, address);
    throw Errors.invalidCredentials('The e-mail address or the password is wrong.');
  }
  await throttle.succeed(email);
  return startSession(deps, user, meta);
}

/** Sweeper: drops sessions past their expiry (they already fail to resolve; this keeps the table small). */
export async function purgeExpiredSessions(deps: DomainDeps): Promise<number> {
  return deps.db.sessions.purgeExpired(deps.clock.now());
}

/** `DELETE /v1/session`: signs this session out. */
export async function signOut(deps: DomainDeps, sessionId: string): Promise<void> {
  await deps.db.sessions.delete(sessionId);
}

/** `DELETE /v1/sessions`: signs the user out everywhere, this session included. */
export async function signOutEverywhere(deps: DomainDeps, userId: string): Promise<number> {
  return deps.db.sessions.deleteForUser(userId);
}

export async function listSessions(deps: DomainDeps, userId: string, currentId: string, query: { cursor?: string; limit?: number }) {
  const page = pageRequest(query);
  return toPage(await deps.db.sessions.listForUser(userId, deps.clock.now(), page), page.limit, (s) => sessionView(s, currentId));
}

export async function updateUser(deps: DomainDeps, user: UserRecord, input: { name?: string }) {
  if (input.name !== undefined) await deps.db.users.update(user.id, { name: input.name.trim() });
  return userView((await deps.db.users.get(user.id))!);
}

/** `POST /v1/user/password`: needs the current password; every other session of the user ends. */
export async function changePassword(deps: DomainDeps, user: UserRecord, sessionId: string, input: { currentPassword: string; newPassword: string }) {
  if (!(await verifyPassword(input.currentPassword, user.passwordHash))) throw Errors.invalidCredentials('The current password is wrong.');
  checkPasswordStrength(input.newPassword);
  const now = deps.clock.now();
  await deps.db.users.update(user.id, { passwordHash: await hashPassword(input.newPassword, deps.settings.passwordHashCost), passwordChangedAt: now });
  return { revokedSessions: await deps.db.sessions.deleteForUser(user.id, sessionId) };
}

/** Operator CLI: sets a new password and ends every session of the user. */
export async function resetPassword(deps: DomainDeps, email: string, password: string): Promise<UserRecord> {
  const user = await deps.db.users.getByEmail(normalizeEmail(email));
  if (!user) throw Errors.invalidInput(`No user with e-mail ${email}.`);
  checkPasswordStrength(password);
  await deps.db.users.update(user.id, { passwordHash: await hashPassword(password, deps.settings.passwordHashCost), passwordChangedAt: deps.clock.now() });
  await deps.db.sessions.deleteForUser(user.id);
  return user;
}

// ---- first run ----

/** While no user exists, a one-time setup token (printed as a link by `serve`); null once there are users. */
export async function issueSetupToken(deps: DomainDeps): Promise<string | null> {
  if ((await deps.db.users.count()) > 0) return null;
  const now = deps.clock.now();
  const token = newSecret('pcsetup');
  await deps.db.setupTokens.create({ tokenHash: hashToken(token), createdAt: now, expiresAt: now + SETUP_TOKEN_TTL_MS });
  return token;
}

/**
 * `POST /v1/setup`: the setup token creates the first user, who owns every workspace that has no owner yet (the
 * `default` account of a fresh install, or the accounts of an install upgraded from before users existed) and the
 * keys made there. Every setup link dies with the first use.
 */
export async function completeSetup(deps: DomainDeps, input: { token: string; email: string; password: string; name?: string }, meta: SessionMeta) {
  normalizeEmail(input.email);
  checkPasswordStrength(input.password);
  const valid = (await deps.db.users.count()) === 0 && (await deps.db.setupTokens.consume(hashToken(input.token), deps.clock.now()));
  if (!valid) throw Errors.setupTokenInvalid('This setup link is unknown, used or expired; restart the server for a new one, or use "press-cloud users create".');
  const { user, adopted } = await createUser(deps, input, { adoptOwnerless: true });
  const started = await startSession(deps, user, meta);
  return { ...started, adopted };
}
