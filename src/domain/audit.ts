import type { AuditEntryRecord, AuditFilter } from '../model/people.js';
import type { Transactional } from '../ports/database.js';
import type { Caller, DomainDeps } from './context.js';
import { newId } from './ids.js';
import { pageRequest, toPage } from './pagination.js';

/*
 * The audit log (spec §10): who changed keys, members, invitations, secrets, aliases, deploys, settings and
 * workspaces, when, with which request. Entries are written through the persistence port in the same transaction as
 * the change they describe, so a change is never without its entry (nor an entry without its change).
 */

/** The keyId of the operator CLI's caller (`press-cloud keys disable` and the like). */
export const OPERATOR_KEY_ID = 'operator';

/** Who acted: a request's caller, or the operator at the command line (`press-cloud users …`, setup link). */
export type Actor = Caller | { operator: true; userId?: string | null };

export interface AuditEvent {
  action: string;
  targetType: string;
  targetId: string;
  /** non-secret facts worth keeping (names, roles); never secrets or tokens */
  details?: Record<string, unknown>;
}

export function auditEntry(deps: DomainDeps, accountId: string, actor: Actor, event: AuditEvent): AuditEntryRecord {
  const now = deps.clock.now();
  // the operator CLI acts as an admin caller without a key of its own
  const byOperator = 'operator' in actor || actor.keyId === OPERATOR_KEY_ID;
  return {
    id: newId('aud', now),
    accountId,
    action: event.action,
    actorType: byOperator ? (actor.userId ? 'user' : 'operator') : actor.keyId ? 'api_key' : 'user',

    actorId: byOperator ? actor.userId ?? null : actor.keyId ?? actor.userId ?? null,
    actorUserId: actor.userId ?? null,
    targetType: event.targetType,
    targetId: event.targetId,
    requestId: byOperator ? null : actor.requestId ?? null,
    details: JSON.stringify(event.details ?? {}),
    createdAt: now,
  };
}


/** Runs `change` and records the event in one transaction. `change` must touch nothing but the database (it may re-run). */
export async function audited<T>(
  deps: DomainDeps, accountId: string, actor: Actor, event: AuditEvent | AuditEvent[], change: (db: Transactional) => Promise<T>,
): Promise<T> {
  return deps.db.transaction(async (tx) => {
    const result = await change(tx);
    for (const e of [event].flat()) await tx.audit.record(auditEntry(deps, accountId, actor, e));
    return result;
  });
}

type Person = { email: string | null; name: string | null };
const NOBODY: Person = { email: null, name: null };

function auditEntryView(e: AuditEntryRecord, people: Map<string, Person>) {
  const person = (id: string | null) => (id && people.get(id)) || NOBODY;
  return {
    id: e.id,
    action: e.action,
    actor: { type: e.actorType, id: e.actorId, userId: e.actorUserId, ...person(e.actorUserId) },
    target: { type: e.targetType, id: e.targetId, ...(e.targetType === 'user' ? person(e.targetId) : NOBODY) },
    requestId: e.requestId,
    details: JSON.parse(e.details) as Record<string, unknown>,
    createdAt: e.createdAt,
  };
}

/** `GET /v1/audit-logs`: every member may read it, viewers included. */
export async function listAuditLog(deps: DomainDeps, caller: Caller, query: AuditFilter & { cursor?: string; limit?: number }) {
  const page = pageRequest(query);
  const filter: AuditFilter = { actorId: query.actorId, action: query.action, targetId: query.targetId, from: query.from, to: query.to };
  const rows = await deps.db.audit.list(caller.accountId, filter, page);
  // names and e-mails are read now, not copied into entries, so a member who left is still named (users are never
  // deleted and their e-mail never changes; a name shows as it is today)
  const ids = new Set(rows.flatMap((e) => [e.actorUserId, e.targetType === 'user' ? e.targetId : null]).filter((id): id is string => id !== null));
  const people = new Map((await deps.db.users.getMany([...ids])).map((u) => [u.id, { email: u.email, name: u.name || null }] as const));
  return toPage(rows, page.limit, (e) => auditEntryView(e, people));
}
