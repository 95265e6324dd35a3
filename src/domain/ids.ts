import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export type IdPrefix = 'acct' | 'dpl' | 'dv' | 'us' | 'ustk' | 'rj' | 'pdf' | 'evt' | 'pcak' | 'whsec' | 'key' | 'whd' | 'usr' | 'ses' | 'mem' | 'inv' | 'aud';

let lastTime = -1;
let lastRandom: number[] = [];

/** 16 base32 digits + 1, carrying leftwards (ULID monotonic mode). */
function increment(digits: number[]): number[] {
  const next = [...digits];
  for (let i = next.length - 1; i >= 0; i--) {
    if (next[i] < 31) {
      next[i]++;
      return next;
    }
    next[i] = 0;
  }
  return next; // 80 bits exhausted within one millisecond: wraps (never in practice)
}

/**
 * prefix_ + 10 chars of time (ms, Crockford base32) + 16 chars of randomness: ids sort by creation time, so list
 * cursors are cheap. Within one millisecond the random part counts up (ULID's monotonic mode), so ids made in the
 * same millisecond still sort in creation order; 80 random bits per millisecond keep them unguessable.
 */
export function newId(prefix: IdPrefix, now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let digits: number[];
  if (now === lastTime) {
    digits = increment(lastRandom);
  } else {
    const bytes = randomBytes(16);
    digits = Array.from(bytes, (b) => b % 32);
  }
  lastTime = now;
  lastRandom = digits;
  return `${prefix}_${time}${digits.map((d) => CROCKFORD[d]).join('')}`;
}

/** A secret token: prefix + 32 random bytes, base64url (256 bits). */
export function newSecret(prefix: 'pcak' | 'ustk' | 'whsec' | 'pcses' | 'pcinv' | 'pcsetup'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** Longest id accepted anywhere: longer ones cannot be ids (400); shorter well-formed ones may simply not exist (404). */
export const MAX_ID_LENGTH = 128;

/**
 * Any well-formed id of the prefix, also shapes we never issue (the docs' examples are short: `rj_abc123`):
 * those name nothing and answer 404, so only impossible ids (other characters, too long) are 400.
 */
export const ID_PATTERN = (prefix: IdPrefix) => `^${prefix}_[0-9A-Za-z_-]{1,${MAX_ID_LENGTH - prefix.length - 1}}$`;
