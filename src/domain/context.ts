import type { BlobStore } from '../ports/blob-store.js';
import type { Role } from '../model/records.js';
import type { Database } from '../ports/database.js';
import type { Outbound } from '../ports/outbound.js';
import type { Clock } from './clock.js';
import type { SecretBox } from './crypto.js';
import { Errors } from './errors.js';
import type { PlanKey, Policy } from './policy.js';

/** What the domain needs from the outside world: ports, a clock, the secret box and a few settings. */
export interface DomainDeps {
  db: Database;
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
  };
  /** HMAC key for signed download/preview links, derived from the secrets key */
  linkSigningKey: Buffer;
}

/** The authenticated caller of an API request. */
export interface Caller {
  accountId: string;
  keyId: string;
  role: Role;
}

const RANK: Record<Role, number> = { viewer: 0, editor: 1, admin: 2 };

export function requireRole(caller: Caller, role: Role, what: string): void {
  if (RANK[caller.role] < RANK[role]) {
    throw Errors.insufficientPermission(`${what} needs the ${role} role; this API key has the ${caller.role} role.`);
  }
}
