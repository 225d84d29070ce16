/**
 * The key a limit counts a client IP under. One IPv6 host is given a whole /64 (RFC 4291 §2.5.1
 * interface identifiers; SLAAC privacy addresses rotate inside it), so a limit keyed on the full
 * address gives one attacker 2^64 fresh budgets: IPv6 clients are counted per /64 instead.
 *
 * - IPv4: unchanged.
 * - IPv4-mapped IPv6 (`::ffff:1.2.3.4`, also in hex, `::ffff:102:304`): the IPv4, so a dual-stack
 *   socket and an IPv4 one count the same client once.
 * - Other IPv6: its /64, the first four groups in lowercase hex without leading zeros, then
 *   `::/64` (`2001:db8:1:2::/64`), whatever the spelling (`::`, leading zeros, case, zone).
 * - Anything else (not an address) is returned as it is.
 */
import { isIPv4, isIPv6 } from 'node:net';

export function ipKey(ip: string): string {
  if (isIPv4(ip)) return ip;
  const address = ip.replace(/%.*$/, ''); // a zone (fe80::1%eth0) names an interface, not a host
  if (!isIPv6(address)) return ip;
  const groups = ipv6Groups(address);
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) {
    const [high = 0, low = 0] = groups.slice(6);
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (checked by the caller). */
function ipv6Groups(address: string): number[] {
  // A trailing dotted quad (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) stands for the last two groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  let text = address;
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${address.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  if (tail === undefined) return left;
  const right = parse(tail);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}
