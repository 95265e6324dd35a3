import type { BlobStore } from '../ports/blob-store.js';
import type { Database } from '../ports/database.js';
import type { Outbound } from '@press-cloud/engine';
import type { Mailer } from '../ports/mailer.js';
import type { MemberRole } from '../model/people.js';
import type { Clock } from './clock.js';
import type { SecretBox } from './crypto.js';
import { Errors } from './errors.js';
import type { PlanKey, Policy } from './policy.js';

/** What the domain needs from the outside world: ports, a clock, the secret box and a few settings. */
export interface DomainDeps {
  db: Database;
  /** sends invitation e-mails when the operator configured SMTP; null = links are only shown to the inviter */
  mailer: Mailer | null;
  blobs: BlobStore;
  clock: Clock;
  secretBox: SecretBox;
  /** requests to tenant-controlled URLs (webhooks): one address policy, DNS pinned */
  outbound: Outbound;
  settings: {
    defaultPlan: PlanKey;
    /** PRESS_WEBHOOK_ALLOW_PRIVATE: webhook URLs may point at loopback/private addresses (development, tests) */
    webhookAllowPrivate: boolean;
    /** base URL of this API as clients reach it, for signed links (set once the server listens) */
    publicUrl: string;
    /** how long transient render outputs are kept */
    transientOutputTtlMs: number;
    /** operator overrides of the self-hosted `unlimited` plan (PRESS_RENDER_TIMEOUT_MS, PRESS_ALLOW_EXTERNAL_NETWORK) */
    unlimitedPolicy: Partial<Policy>;
    /** PRESS_SIGNED_URLS: `s3` hands out the blob store's presigned URLs (if it has `presignGet`) instead of links to this API */
    signedUrls: 'server' | 's3';
    /** log2 of scrypt's N for new password hashes (PRESS_PASSWORD_HASH_COST; tests lower it) */
    passwordHashCost: number;
    /** cookies get `Secure`: the public URL is https (PRESS_PUBLIC_URL) */
    secureCookies: boolean;
  };
  /** HMAC key for signed download/preview links, derived from the secrets key */
  linkSigningKey: Buffer;
}

/** The authenticated caller of an API request: an API key, or a signed-in user, acting in one workspace. */
export interface Caller {
  /** the workspace (account) the request acts in */
  accountId: string;
  /** the effective role: the membership's, and for a key the lesser of the key's role and its creator's membership */
  role: MemberRole;
  /** the API key of the request; null for a signed-in user */
  keyId: string | null;
  /** the user acting: the signed-in user, or the key's creator (null for a key made before the workspace had users) */
  userId?: string | null;
  /** the request id (audit log) */
  requestId?: string | null;
}

const RANK: Record<MemberRole, number> = { viewer: 0, editor: 1, admin: 2, owner: 3 };

export function roleAtLeast(role: MemberRole, least: MemberRole): boolean {
  return RANK[role] >= RANK[least];
}

/** The weaker of two roles (a key acts with at most its creator's current role). */
export function lesserRole<R extends MemberRole>(a: R, b: MemberRole): R | MemberRole {
  return RANK[a] <= RANK[b] ? a : b;
}

export function requireRole(caller: Caller, role: MemberRole, what: string): void {
  if (!roleAtLeast(caller.role, role)) {
    const who = caller.keyId ? 'this API key acts' : 'you act';
    throw Errors.insufficientPermission(`${what} needs the ${role} role; ${who} with the ${caller.role} role in this workspace.`);
  }
}
