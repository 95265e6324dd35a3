import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export type IdPrefix = 'acct' | 'dpl' | 'dv' | 'us' | 'ustk' | 'rj' | 'pdf' | 'evt' | 'pcak' | 'whsec' | 'key' | 'whd';

/**
 * prefix_ + 10 chars of time (ms, Crockford base32) + 16 chars of randomness: sortable by creation time,
 * so list cursors are cheap, and 80 random bits so ids cannot be guessed.
 */
export function newId(prefix: IdPrefix, now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(16);
  let rand = '';
  for (let i = 0; i < 16; i++) rand += CROCKFORD[bytes[i] % 32];
  return `${prefix}_${time}${rand}`;
}

/** A secret token: prefix + 32 random bytes, base64url (256 bits). */
export function newSecret(prefix: 'pcak' | 'ustk' | 'whsec'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export const ID_PATTERN = (prefix: IdPrefix) => `^${prefix}_[0-9A-Za-z_-]{10,64}$`;
