import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import type { LookupFunction } from 'node:net';

/**
 * Addresses a page may never reach, even on plans with external network: loopback, private, link-local (incl.
 * the 169.254.169.254 metadata service), CGNAT, "this network", multicast, reserved, documentation and
 * benchmarking ranges, and the IPv6 equivalents. IPv6 forms that embed an IPv4 address (mapped, SIIT, NAT64,
 * 6to4) are judged by the embedded address; IPv4-compatible (::/96) and Teredo are refused outright.
 */
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved + broadcast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 96], // unspecified, loopback ::1, deprecated IPv4-compatible
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard-only
  ['2001::', 23], // IETF protocol assignments, incl. Teredo 2001::/32
  ['2001:db8::', 32], // documentation
  ['3fff::', 20], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // deprecated site-local
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** 16 bytes of an IPv6 literal (zone id ignored), or null when it isn't one. */
export function parseIPv6(input: string): Uint8Array | null {
  const text = input.replace(/^\[|\]$/g, '').split('%')[0];
  if (isIP(text) !== 6) return null;
  let head = text;
  const tailWords: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const octets = v4[1].split('.').map(Number);
    tailWords.push((octets[0] << 8) | octets[1], (octets[2] << 8) | octets[3]);
    head = text.slice(0, -v4[1].length);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, null];
  const parse = (s: string) => (s ? s.split(':').map((w) => parseInt(w, 16)) : []);
  const l = parse(left);
  const r = right === null ? [] : parse(right);
  const fill = 8 - l.length - r.length - tailWords.length;
  const words = [...l, ...new Array<number>(right === null ? 0 : fill).fill(0), ...r, ...tailWords];
  if (words.length !== 8) return null;
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[i * 2] = w >> 8;
    bytes[i * 2 + 1] = w & 0xff;
  });
  return bytes;
}

/** The IPv4 address an IPv6 address stands for (mapped, SIIT, NAT64 well-known prefix, 6to4), if any. */
function embeddedIPv4(b: Uint8Array): string | null {
  const zero = (from: number, to: number) => b.subarray(from, to).every((x) => x === 0);
  const v4 = (at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
  // ::ffff:a.b.c.d (mapped) and ::ffff:0:a.b.c.d (SIIT)
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(12);
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && b[10] === 0 && b[11] === 0) return v4(12);
  // 64:ff9b::/96 (NAT64)
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return v4(12);
  // 2002::/16 (6to4): the IPv4 address follows the prefix
  if (b[0] === 0x20 && b[1] === 0x02) return v4(2);
  return null;
}

/** True when a page must not reach `ip`. Anything that isn't an IP literal counts as blocked. */
export function isBlockedAddress(ip: string): boolean {
  const text = ip.replace(/^\[|\]$/g, '').split('%')[0];
  const family = isIP(text);
  if (family === 4) return blocked.check(text, 'ipv4');
  if (family !== 6) return true;
  const bytes = parseIPv6(text);
  if (!bytes) return true;
  const v4 = embeddedIPv4(bytes);
  if (v4 !== null) return blocked.check(v4, 'ipv4');
  return blocked.check(text, 'ipv6');
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** DNS resolution used for external requests; injectable so tests never touch real DNS. */
export type HostLookup = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemLookup: HostLookup = async (hostname) => {
  const all = await dnsLookup(hostname, { all: true, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

export type ExternalDecision =
  | { allowed: true; address: ResolvedAddress }
  | { allowed: false; reason: string };

/**
 * Decides whether an external URL may be fetched. Checks every address the name resolves to (not the name):
 * if any is blocked the request is refused, so a name can't smuggle in a private address next to a public one.
 * The caller must connect to the returned address (see `fetchPinned`), not resolve the name again — a second
 * resolution could answer differently (DNS rebinding).
 */
export async function checkExternalUrl(url: URL, lookup: HostLookup): Promise<ExternalDecision> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { allowed: false, reason: `scheme ${url.protocol} not allowed` };
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const literal = isIP(host);
  if (literal) {
    return isBlockedAddress(host)
      ? { allowed: false, reason: 'blocked address' }
      : { allowed: true, address: { address: host, family: literal === 6 ? 6 : 4 } };
  }
  const lower = host.toLowerCase();
  if (lower === 'localhost' || lower.endsWith('.localhost') || lower.endsWith('.internal')) {
    return { allowed: false, reason: 'reserved name' };
  }
  let addresses: ResolvedAddress[];
  try {
    addresses = await lookup(host);
  } catch {
    return { allowed: false, reason: 'name not resolved' };
  }
  if (addresses.length === 0) return { allowed: false, reason: 'name not resolved' };
  if (addresses.some((a) => isBlockedAddress(a.address))) return { allowed: false, reason: 'blocked address' };
  return { allowed: true, address: addresses[0] };
}

export interface PinnedRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: Buffer | null;
  /** the address `checkExternalUrl` approved; the connection goes there whatever DNS says now */
  address: ResolvedAddress;
  /** bigger (decoded) responses fail */
  maxBytes: number;
  signal: AbortSignal;
}

export interface PinnedResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'accept-encoding',
]);

/**
 * Performs one HTTP(S) request from Node with the connection pinned to an already-checked address. TLS still
 * verifies the certificate against the host name (SNI and `Host` use the name). Redirects are not followed:
 * the 3xx goes back to the browser, whose next request is intercepted and checked again. The body is decoded
 * here (gzip/deflate/br) because the browser receives it as a fulfilled response.
 */
export function fetchPinned(req: PinnedRequest): Promise<PinnedResponse> {
  const { url, address } = req;
  const pinned: LookupFunction = (_host, options, callback) => {
    const cb = callback as (err: Error | null, address: unknown, family?: number) => void;
    if ((options as { all?: boolean }).all) cb(null, [{ address: address.address, family: address.family }]);
    else cb(null, address.address, address.family);
  };
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (!HOP_BY_HOP.has(k.toLowerCase())) headers[k] = v;
  }
  headers['accept-encoding'] = 'gzip, deflate, br';
  const client = url.protocol === 'https:' ? https : http;
  const host = url.hostname.replace(/^\[|\]$/g, '');

  return new Promise<PinnedResponse>((resolve, reject) => {
    const request = client.request(
      {
        protocol: url.protocol,
        hostname: host,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: req.method,
        headers,
        lookup: pinned,
        servername: isIP(host) ? undefined : host,
        signal: req.signal,
        agent: false,
      },
      (res) => {
        const encoding = String(res.headers['content-encoding'] ?? '').trim().toLowerCase();
        const decoder =
          encoding === 'gzip' || encoding === 'x-gzip'
            ? zlib.createGunzip()
            : encoding === 'deflate'
              ? zlib.createInflate()
              : encoding === 'br'
                ? zlib.createBrotliDecompress()
                : null;
        const source = decoder ? res.pipe(decoder) : res;
        const chunks: Buffer[] = [];
        let size = 0;
        const fail = (err: Error) => {
          res.destroy();
          decoder?.destroy();
          reject(err);
        };
        res.on('error', fail);
        source.on('error', fail);
        source.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > req.maxBytes) fail(new Error(`external response over ${req.maxBytes} bytes`));
          else chunks.push(chunk);
        });
        source.on('end', () => {
          const out: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) {
            if (v === undefined || HOP_BY_HOP.has(k) || k === 'content-encoding') continue;
            out[k] = Array.isArray(v) ? v.join(k === 'set-cookie' ? '\n' : ', ') : v;
          }
          resolve({ status: res.statusCode ?? 502, headers: out, body: Buffer.concat(chunks, size) });
        });
      },
    );
    request.on('error', reject);
    request.end(req.body ?? undefined);
  });
}
