// TRUST_PROXY: which TCP peers are proxies whose forwarding headers (X-Forwarded-*, Forwarded, X-Real-IP) are kept.
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** One TRUST_PROXY entry: an address with the number of leading bits that must match. */
export interface ProxyRange {
  address: string;
  family: 'ipv4' | 'ipv6';
  prefix: number;
}

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** The TCP peer as one spelling: an IPv4 peer of a dual-stack socket (`::ffff:10.0.0.1`) as plain IPv4. */
export function normalisePeer(address: string | undefined): string | null {
  if (!address) return null;
  const m = MAPPED_V4.exec(address);
  return m ? m[1]! : address;
}

/** One entry (`10.0.0.0/8`, `192.168.1.7`, `fd00::/8`, `::1`), or the reason it is none. */
export function parseProxyRange(entry: string): ProxyRange | string {
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) && !address.includes('%') ? 'ipv6' : null;
  if (family === null) return `"${entry}" is not an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, ::1)`;
  const max = family === 'ipv4' ? 32 : 128;
  if (slash === -1) return { address, family, prefix: max };
  const bits = entry.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) {
    return `"${entry}" has a prefix length that is not an integer from 0 to ${max}`;
  }
  return { address, family, prefix: Number(bits) };
}

/** A comma-separated TRUST_PROXY value as ranges, or the reason it is not one. */
export function parseTrustProxy(value: string): ProxyRange[] | string {
  const entries = value
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0) return 'must list at least one IP address or CIDR';
  const ranges: ProxyRange[] = [];
  for (const entry of entries) {
    const range = parseProxyRange(entry);
    if (typeof range === 'string') return range;
    ranges.push(range);
  }
  return ranges;
}

/** Tells whether a TCP peer is one of the trusted proxies; no ranges trust nobody. */
export function trustedPeer(ranges: readonly ProxyRange[]): (peer: string | null) => boolean {
  if (ranges.length === 0) return () => false;
  const list = new BlockList();
  for (const r of ranges) list.addSubnet(r.address, r.prefix, r.family);
  return (peer) => {
    if (peer === null) return false;
    if (isIPv4(peer)) return list.check(peer, 'ipv4') || list.check(`::ffff:${peer}`, 'ipv6');
    return isIPv6(peer) && list.check(peer, 'ipv6');
  };
}
