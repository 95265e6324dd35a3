import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/**
 * The certificate the guard proxy presents inside every tunnel Chromium opens through it: a self-signed P-256
 * certificate made when the renderer starts (its key never leaves the process), which Chromium accepts because its
 * public key is pinned on the command line (`--ignore-certificate-errors-spki-list`). Only Chromium's TLS to the
 * proxy uses it; what the proxy fetches on a page's behalf is verified by Node against the real roots (Outbound).
 */
export interface InternalCertificate {
  /** PEM, for `tls.createSecureContext` */
  cert: string;
  key: string;
  /** base64 SHA-256 of the SubjectPublicKeyInfo: the value of `--ignore-certificate-errors-spki-list` */
  spkiHash: string;
}

export function makeInternalCertificate(): InternalCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const der = selfSigned(spki, privateKey);
  const pem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
  return {
    cert: pem,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    spkiHash: createHash('sha256').update(spki).digest('base64'),
  };
}

// ---- a minimal X.509 v3 encoder (DER) -------------------------------------------------------------------------

function tlv(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const oid = (hex: string) => tlv(0x06, Buffer.from(hex, 'hex'));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));

function utcTime(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
}

const ECDSA_SHA256 = seq(oid('2a8648ce3d040302'));
const CN = oid('550403');
const SAN = oid('551d11');

function selfSigned(spki: Buffer, key: KeyObject): Buffer {
  const name = seq(tlv(0x31, seq(CN, utf8('press.internal'))));
  const serial = randomBytes(16);
  // A positive INTEGER in its shortest form: the first byte neither has its top bit set nor is a zero that could go.
  serial[0] = (serial[0] & 0x7f) | 0x40;
  const now = Date.now();
  const san = seq(seq(SAN, tlv(0x04, seq(tlv(0x82, Buffer.from('*.press.internal'))))));
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    ECDSA_SHA256,
    name,
    seq(utcTime(new Date(now - 86_400_000)), utcTime(new Date(now + 20 * 365 * 86_400_000))),
    name,
    spki,
    tlv(0xa3, san),
  );
  const signature = sign('sha256', tbs, { key, dsaEncoding: 'der' });
  return seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
}
