import { Type } from 'typebox';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../domain/passwords.js';
import { Id, Millis, NullableMillis } from './common.js';

export const MemberRole = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('editor'), Type.Literal('viewer')]);
export const InvitedRole = Type.Union([Type.Literal('admin'), Type.Literal('editor'), Type.Literal('viewer')]);

export const Email = Type.String({ minLength: 3, maxLength: 320, description: 'e-mail address (case-insensitive)' });
export const Password = Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH, description: `at least ${PASSWORD_MIN_LENGTH} characters` });
export const Name = Type.String({ minLength: 1, maxLength: 200 });

export const User = Type.Object(
  { id: Id('usr'), email: Type.String(), name: Type.String(), createdAt: Millis() },
  { title: 'User', additionalProperties: false },
);

export const Session = Type.Object(
  {
    id: Id('ses'), createdAt: Millis(), lastSeenAt: Millis(), expiresAt: Millis(),
    userAgent: Type.Union([Type.String(), Type.Null()]), ip: Type.Union([Type.String(), Type.Null()]),
    current: Type.Boolean({ description: 'the session of this request' }),
  },
  { title: 'Session', additionalProperties: false },
);

export const SignedIn = Type.Object(
  {
    user: User,
    session: Session,
    csrfToken: Type.String({ description: 'send it as X-CSRF-Token on every cookie-authenticated POST/PATCH/PUT/DELETE' }),
  },
  { title: 'SignedIn', additionalProperties: false },
);

export const Workspace = Type.Object(
  {
    id: Id('acct'), name: Type.String(),
    plan: Type.Object({ key: Type.String(), name: Type.String() }),
    personal: Type.Boolean({ description: 'the personal workspace of its owner' }),
    role: MemberRole,
    createdAt: Millis(),
  },
  { title: 'Workspace', additionalProperties: false },
);

export const Member = Type.Object(
  { userId: Id('usr'), email: Type.String(), name: Type.String(), role: MemberRole, createdAt: Millis('when they joined') },
  { title: 'Member', additionalProperties: false },
);

export const Invitation = Type.Object(
  {
    id: Id('inv'), email: Type.String(), role: InvitedRole,
    invitedByUserId: Type.Union([Id('usr'), Type.Null()]), createdAt: Millis(), expiresAt: Millis(),
  },
  { title: 'Invitation', additionalProperties: false },
);

export const AuditEntry = Type.Object(
  {
    id: Id('aud'),
    action: Type.String({ description: '`<resource>.<verb>`, e.g. api_key.created, member.role_changed (see docs/api.md)' }),
    actor: Type.Object({
      type: Type.Union([Type.Literal('user'), Type.Literal('api_key'), Type.Literal('operator')]),
      id: Type.Union([Type.String(), Type.Null()], { description: 'user id or API key id; null for the operator CLI' }),
      userId: Type.Union([Type.String(), Type.Null()], { description: 'the user acting (for a key: its creator)' }),
      email: Type.Union([Type.String(), Type.Null()], { description: "that user's e-mail, also after they left the workspace; null for the operator CLI" }),
      name: Type.Union([Type.String(), Type.Null()], { description: "that user's name as it is now; null for the operator CLI" }),
    }),
    target: Type.Object({
      type: Type.String(),
      id: Type.String(),
      email: Type.Union([Type.String(), Type.Null()], { description: "for a user target: the user's e-mail, also after they left; else null" }),
      name: Type.Union([Type.String(), Type.Null()], { description: "for a user target: the user's name as it is now; else null" }),
    }),
    requestId: Type.Union([Type.String(), Type.Null()]),
    details: Type.Record(Type.String(), Type.Unknown()),
    createdAt: Millis(),
  },
  { title: 'AuditEntry', additionalProperties: false },
);

export { NullableMillis };
