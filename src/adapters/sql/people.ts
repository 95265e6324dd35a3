import type { PageRequest } from '../../model/pagination.js';
import type { MemberRecord, MembershipRecord, WorkspaceMembershipRecord } from '../../model/people.js';
import type {
  AuditLogRepository, InvitationRepository, LoginFailureRepository, MembershipRepository, SessionRepository, SetupTokenRepository, UserRepository,
} from '../../ports/people.js';
import { auditLog, invitations, memberships, sessions, setupTokens, users } from './catalogue.js';
import type { SqlExecutor } from './executor.js';
import { every, first, insertRecord, pageOf, scalar, updateRecord } from './query.js';

/** The people side (spec §10): users, sessions, setup tokens, memberships, invitations, the audit log. */

export function userRepository(x: SqlExecutor): UserRepository {
  return {
    create: async (u) => void (await insertRecord(x, users, u)),
    get: (id) => first(x, users, 'SELECT * FROM users WHERE id = ?', [id]),
    getByEmail: (email) => first(x, users, 'SELECT * FROM users WHERE email = ?', [email]),
    getMany: async (ids) => (ids.length ? every(x, users, `SELECT * FROM users WHERE id IN (${ids.map(() => '?').join(', ')})`, ids) : []),
    count: () => scalar(x, 'SELECT count(*) AS n FROM users'),
    update: (id, patch) => updateRecord(x, users, patch, 'id = ?', [id]),
  };
}

export function sessionRepository(x: SqlExecutor): SessionRepository {
  return {
    create: async (s) => void (await insertRecord(x, sessions, s)),
    getByHash: (h, now) => first(x, sessions, 'SELECT * FROM sessions WHERE token_hash = ? AND expires_at > ?', [h, now]),
    touch: async (id, at) => void (await x.run('UPDATE sessions SET last_seen_at = ? WHERE id = ?', [at, id])),
    delete: async (id) => void (await x.run('DELETE FROM sessions WHERE id = ?', [id])),
    deleteForUser: (userId, keepId) => x.run('DELETE FROM sessions WHERE user_id = ? AND id <> ?', [userId, keepId ?? '']),
    listForUser: (userId, now, page) => pageOf(x, sessions, 'user_id = ? AND expires_at > ?', [userId, now], page),
    purgeExpired: (now) => x.run('DELETE FROM sessions WHERE expires_at <= ?', [now]),
  };
}

export function setupTokenRepository(x: SqlExecutor): SetupTokenRepository {
  return {
    create: async (t) => void (await insertRecord(x, setupTokens, t)),
    // one statement: the token is checked and every token deleted at once, so two concurrent uses cannot both pass
    consume: async (h, now) =>
      (await x.run('DELETE FROM setup_tokens WHERE EXISTS (SELECT 1 FROM setup_tokens t WHERE t.token_hash = ? AND t.expires_at > ?)', [h, now])) > 0,
    deleteAll: async () => void (await x.run('DELETE FROM setup_tokens')),
  };
}

const MEMBER_SELECT = `SELECT m.*, u.email AS email, u.name AS name FROM memberships m JOIN users u ON u.id = m.user_id`;
const WORKSPACE_SELECT = `SELECT m.*, a.name AS workspace_name, a.plan_key AS plan_key, a.personal_user_id AS personal_user_id,
  a.created_at AS workspace_created_at FROM memberships m JOIN accounts a ON a.id = m.account_id`;

/** keyset page over memberships joined with another table (the shared `pageOf` reads one table) */
async function joinedPage<R>(x: SqlExecutor, select: string, where: string, params: unknown[], page: PageRequest): Promise<R[]> {
  let sql = `${select} WHERE ${where}`;
  const p = [...params];
  if (page.after) {
    sql += ' AND (m.created_at < ? OR (m.created_at = ? AND m.id < ?))';
    p.push(page.after.at, page.after.at, page.after.id);
  }
  p.push(page.limit + 1);
  const rows = await x.all(`${sql} ORDER BY m.created_at DESC, m.id DESC LIMIT ?`, p);
  return rows.map((r) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) out[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
    return out as R;
  });
}

/** `m.userId` becomes the owner (replacing a lesser membership of theirs) and gets the keys nobody made */
async function owner(t: SqlExecutor, m: MembershipRecord) {
  await t.run('DELETE FROM memberships WHERE account_id = ? AND user_id = ?', [m.accountId, m.userId]);
  await insertRecord(t, memberships, { ...m, role: 'owner' });
  await t.run('UPDATE api_keys SET user_id = ? WHERE account_id = ? AND user_id IS NULL', [m.userId, m.accountId]);
}

export function membershipRepository(x: SqlExecutor): MembershipRepository {
  return {
    create: async (m) => void (await insertRecord(x, memberships, m)),
    get: (accountId, userId) => first(x, memberships, 'SELECT * FROM memberships WHERE account_id = ? AND user_id = ?', [accountId, userId]),
    owner: (accountId) => first(x, memberships, `SELECT * FROM memberships WHERE account_id = ? AND role = 'owner'`, [accountId]),
    count: (accountId) => scalar(x, 'SELECT count(*) AS n FROM memberships WHERE account_id = ?', [accountId]),
    listMembers: (accountId, page) => joinedPage<MemberRecord>(x, MEMBER_SELECT, 'm.account_id = ?', [accountId], page),
    listForUser: (userId, page) => joinedPage<WorkspaceMembershipRecord>(x, WORKSPACE_SELECT, 'm.user_id = ?', [userId], page),
    setRole: async (accountId, userId, role) => {
      await x.run(`UPDATE memberships SET role = ? WHERE account_id = ? AND user_id = ? AND role <> 'owner'`, [role, accountId, userId]);
    },
    transferOwnership: (accountId, fromUserId, toUserId) =>
      x.tx(async (t) => {
        const target = await t.one(`SELECT 1 AS n FROM memberships WHERE account_id = ? AND user_id = ? AND role <> 'owner'`, [accountId, toUserId]);
        if (!target) return false;
        // the old owner steps down first: the one-owner index refuses two owners even for an instant
        const down = await t.run(`UPDATE memberships SET role = 'admin' WHERE account_id = ? AND user_id = ? AND role = 'owner'`, [accountId, fromUserId]);
        if (down !== 1) return false;
        const up = await t.run(`UPDATE memberships SET role = 'owner' WHERE account_id = ? AND user_id = ?`, [accountId, toUserId]);
        // removed in between (PostgreSQL, READ COMMITTED): fail the whole transaction rather than leave no owner
        if (up !== 1) throw new Error(`ownership transfer: member ${toUserId} left during the transfer`);
        return true;
      }),
    delete: async (accountId, userId) => (await x.run(`DELETE FROM memberships WHERE account_id = ? AND user_id = ? AND role <> 'owner'`, [accountId, userId])) > 0,
    adoptOwnerless: (userId, now, newId) =>
      x.tx(async (t) => {
        const ownerless = (await t.all(
          `SELECT id FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.account_id = a.id AND m.role = 'owner') ORDER BY id`,
        )).map((r) => String(r.id));
        for (const accountId of ownerless) await owner(t, { id: newId(), accountId, userId, role: 'owner', createdAt: now });
        return ownerless;
      }),
    createOwner: (m) => x.tx((t) => owner(t, m)),
  };
}

export function invitationRepository(x: SqlExecutor): InvitationRepository {
  const PENDING = 'accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?';
  return {
    create: async (i) => void (await insertRecord(x, invitations, i)),
    get: (accountId, id) => first(x, invitations, 'SELECT * FROM invitations WHERE account_id = ? AND id = ?', [accountId, id]),
    getByHash: (h) => first(x, invitations, 'SELECT * FROM invitations WHERE token_hash = ?', [h]),
    listPending: (accountId, now, page) => pageOf(x, invitations, `account_id = ? AND ${PENDING}`, [accountId, now], page),
    countPending: (accountId, now) => scalar(x, `SELECT count(*) AS n FROM invitations WHERE account_id = ? AND ${PENDING}`, [accountId, now]),
    revoke: async (accountId, id, at) =>
      (await x.run(`UPDATE invitations SET revoked_at = ? WHERE account_id = ? AND id = ? AND ${PENDING}`, [at, accountId, id, at])) === 1,
    accept: (id, m, now) =>
      x.tx(async (t) => {
        const taken = await t.run(`UPDATE invitations SET accepted_at = ?, accepted_by_user_id = ? WHERE id = ? AND ${PENDING}`, [now, m.userId, id, now]);
        if (taken !== 1) return false;
        await insertRecord(t, memberships, m);
        return true;
      }),
  };
}

export function auditLogRepository(x: SqlExecutor): AuditLogRepository {
  return {
    record: async (e) => void (await insertRecord(x, auditLog, e)),
    list: (accountId, f, page) => {
      const where = ['account_id = ?'];
      const params: unknown[] = [accountId];
      if (f.actorId !== undefined) where.push('(actor_id = ? OR actor_user_id = ?)'), params.push(f.actorId, f.actorId);
      if (f.action !== undefined) where.push('action = ?'), params.push(f.action);
      if (f.targetId !== undefined) where.push('target_id = ?'), params.push(f.targetId);
      if (f.from !== undefined) where.push('created_at >= ?'), params.push(f.from);
      if (f.to !== undefined) where.push('created_at < ?'), params.push(f.to);
      return pageOf(x, auditLog, where.join(' AND '), params, page);
    },
  };
}


export function loginFailureRepository(x: SqlExecutor): LoginFailureRepository {
  return {
    record: async (keys, at) => {
      for (const key of keys) await x.run('INSERT INTO login_failures (key, at) VALUES (?, ?)', [key, at]);
    },
    recent: async (key, since, limit) =>
      (await x.all('SELECT at FROM login_failures WHERE key = ? AND at >= ? ORDER BY at DESC LIMIT ?', [key, since, limit])).map((r) => Number(r.at)),
    forget: async (key) => void (await x.run('DELETE FROM login_failures WHERE key = ?', [key])),
    purge: (before) => x.run('DELETE FROM login_failures WHERE at < ?', [before]),
  };
}
