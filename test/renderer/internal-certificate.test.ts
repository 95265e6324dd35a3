import { createHash, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { makeInternalCertificate } from '../../packages/engine/src/chromium/internal-certificate.js';

describe('the guard proxy certificate', () => {
  it('is a valid self-signed certificate whose SPKI hash is the pinned value, every time', () => {
    // The serial is random: an encoding that is wrong for some values (a redundant leading zero) shows within a
    // few hundred certificates.
    for (let i = 0; i < 600; i++) {
      const c = makeInternalCertificate();
      const x = new X509Certificate(c.cert);
      expect(x.verify(x.publicKey)).toBe(true);
      const spki = x.publicKey.export({ type: 'spki', format: 'der' });
      expect(createHash('sha256').update(spki).digest('base64')).toBe(c.spkiHash);
      expect(() => tls.createSecureContext({ cert: c.cert, key: c.key })).not.toThrow();
      if (i === 0) {
        expect(x.subjectAltName).toBe('DNS:*.press.internal');
        expect(new Date(x.validTo).getTime()).toBeGreaterThan(Date.now() + 365 * 86_400_000);
      }
    }
  });
});
