import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { LookupFunction } from 'node:net';
import zlib from 'node:zlib';
import { isReservedHostName, refusedAddressReason } from './address-policy.js';
import { OutboundRefusedError } from './port.js';
import type {
  Outbound,
  OutboundCheck,
  OutboundDecision,
  OutboundRequest,
  OutboundResponse,
  ResolvedAddress,
} from './port.js';

/** DNS resolution for outbound requests; injectable so tests never touch real DNS. */
export type HostLookup = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemLookup: HostLookup = async (hostname) => {
  const all = await dnsLookup(hostname, { all: true, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/**
 * Decides whether `url` may be requested. Every address the name resolves to is checked (not the name): if any
 * is refused the request is, so a name can't smuggle a private address in next to a public one. The caller must
 * connect to the returned address, not resolve the name again (DNS rebinding).
 */
export async function checkUrl(url: URL, lookup: HostLookup, opts: OutboundCheck = {}): Promise<OutboundDecision> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { allowed: false, kind: 'scheme', reason: `scheme ${url.protocol} not allowed` };
  }
  if (opts.allowPrivate) return { allowed: true, address: null };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const literal = isIP(host);
  if (literal) {
    const reason = refusedAddressReason(host);
    return reason ? { allowed: false, kind: 'address', reason } : { allowed: true, address: { address: host, family: literal === 6 ? 6 : 4 } };
  }
  if (isReservedHostName(host)) return { allowed: false, kind: 'address', reason: `reserved name ${host}` };
  let addresses: ResolvedAddress[];
  try {
    addresses = await lookup(host);
  } catch {
    return { allowed: false, kind: 'unresolved', reason: `${host} did not resolve` };
  }
  if (addresses.length === 0) return { allowed: false, kind: 'unresolved', reason: `${host} did not resolve` };
  for (const a of addresses) {
    const reason = refusedAddressReason(a.address);
    if (reason) return { allowed: false, kind: 'address', reason: `${host} resolves to ${a.address}: ${reason}` };
  }
  return { allowed: true, address: addresses[0] };
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
 * One HTTP(S) request with the connection pinned to an already-checked address (null: resolved as usual). SNI and `Host` use the name, so
 * TLS verifies the certificate as usual. Redirects are not followed. The body is decoded (gzip/deflate/br).
 */
export function fetchPinned(req: OutboundRequest, address: ResolvedAddress | null): Promise<OutboundResponse> {
  const { url } = req;
  const pinned: LookupFunction = (_host, options, callback) => {
    const cb = callback as (err: Error | null, address: unknown, family?: number) => void;
    const to = address!;
    if ((options as { all?: boolean }).all) cb(null, [{ address: to.address, family: to.family }]);
    else cb(null, to.address, to.family);
  };
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (!HOP_BY_HOP.has(k.toLowerCase())) headers[k] = v;
  }
  headers['accept-encoding'] = 'gzip, deflate, br';
  if (req.body) headers['content-length'] = String(req.body.length);
  const client = url.protocol === 'https:' ? https : http;
  const host = url.hostname.replace(/^\[|\]$/g, '');

  return new Promise<OutboundResponse>((resolve, reject) => {
    const request = client.request(
      {
        protocol: url.protocol,
        hostname: host,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: req.method,
        headers,
        lookup: address ? pinned : undefined,
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
          if (size > req.maxBytes) fail(new Error(`response over ${req.maxBytes} bytes`));
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

/** The Outbound port: `checkUrl` then `fetchPinned` to the checked address. */
export function createOutbound(opts: { lookup?: HostLookup } = {}): Outbound {
  const lookup = opts.lookup ?? systemLookup;
  return {
    check: (url, check) => checkUrl(url, lookup, check),
    async request(req) {
      const decision = await checkUrl(req.url, lookup, req);
      if (!decision.allowed) throw new OutboundRefusedError(decision.kind, decision.reason);
      return fetchPinned(req, decision.address);
    },
  };
}
