import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/*
 * The one address policy for every tenant-controlled destination: rendered pages' requests and webhook
 * deliveries. Judged on resolved IP addresses, never on host names. Only globally routable unicast addresses pass:
 * loopback, private, link-local (incl. the 169.254.169.254 metadata service), CGNAT, "this network", multicast,
 * broadcast, reserved, documentation, benchmarking, discard-only and unique-local ranges are refused. IPv6 forms
 * that carry an IPv4 address (mapped, SIIT, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by that address, so
 * `2002:a9fe:a9fe::` is the metadata address; IPv4-compatible (::/96), Teredo and the other IETF protocol
 * assignments (2001::/23) and local-use NAT64 (64:ff9b:1::/48) are refused outright.
 */

const REFUSED_V6: ReadonlyArray<[ipaddr.IPv6, number]> = [
  [ipaddr.IPv6.parse('::'), 96],
  [ipaddr.IPv6.parse('2001::'), 23],
  [ipaddr.IPv6.parse('64:ff9b:1::'), 48],
];

/** The IPv4 address an IPv6 address stands for, if it is one of the forms that embed one. */
function embeddedIPv4(v6: ipaddr.IPv6): ipaddr.IPv4 | null {
  const w = v6.parts;
  const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  switch (v6.range()) {
    case 'ipv4Mapped': // ::ffff:a.b.c.d
    case 'rfc6145': // ::ffff:0:a.b.c.d (SIIT)
      return v4(w[6], w[7]);
    case 'rfc6052': // 64:ff9b::a.b.c.d (NAT64 well-known prefix)
      return v4(w[6], w[7]);
    case '6to4': // 2002:AABB:CCDD::/48
      return v4(w[1], w[2]);
    default:
      return null;
  }
}

/** Why a page or webhook must not reach `ip`, or null when it may. Anything that isn't an IP literal is refused. */
export function refusedAddressReason(ip: string): string | null {
  const text = ip.replace(/^\[|\]$/g, '').split('%')[0];
  if (isIP(text) === 0) return 'not an IP address';
  let addr: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(text);
  if (addr.kind() === 'ipv6') {
    const v6 = addr as ipaddr.IPv6;
    for (const [net, bits] of REFUSED_V6) if (v6.match(net, bits)) return `${text} is in a refused IPv6 range`;
    addr = embeddedIPv4(v6) ?? v6;
  }
  const range = addr.range();
  return range === 'unicast' ? null : `${text} is a ${range} address`;
}

/** True when a tenant-controlled request must not reach `ip`. */
export function isBlockedAddress(ip: string): boolean {
  return refusedAddressReason(ip) !== null;
}

/** Host names that never leave the machine, whatever DNS says (ours, and the reserved `localhost`). */
export function isReservedHostName(host: string): boolean {
  const lower = host.toLowerCase().replace(/\.$/, '');
  return lower === 'localhost' || lower.endsWith('.localhost') || lower.endsWith('.internal');
}
