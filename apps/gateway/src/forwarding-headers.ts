// X-Forwarded-For/-Host/-Proto set by the gateway: the client's own Forwarded, X-Forwarded-* and X-Real-IP count only from a trusted proxy.
import type { IncomingHttpHeaders } from 'node:http';
import { dropHeader, foldedName } from './headers';

/** The TCP connection a request came over, as the forwarding headers describe it. */
export interface Peer {
  /** The peer's address (IPv4-mapped IPv6 as plain IPv4), or null when the socket no longer knows it. */
  address: string | null;
  /** True when the peer is in TRUST_PROXY: its forwarding headers are kept and extended. */
  trusted: boolean;
  /** True on a TLS connection. */
  encrypted: boolean;
}

/** `Forwarded`, `X-Real-IP` and every `X-Forwarded-*`, by their folded name (so `X_Forwarded_For` counts too). */
export function isForwardingHeader(folded: string): boolean {
  return folded === 'forwarded' || folded === 'x-real-ip' || folded.startsWith('x-forwarded-');
}

function first(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value.join(',') : value;
  return v?.split(',')[0]?.trim() || undefined;
}

/**
 * Drops the client's forwarding headers unless the peer is a trusted proxy (whose headers are kept, but never
 * a look-alike spelling with `_`: a proxy sets the real names, and passes look-alikes through from its client),
 * then sets `X-Forwarded-For` (the trusted chain plus the peer, else the peer), `X-Forwarded-Host` (the trusted
 * proxy's, else the client's Host) and `X-Forwarded-Proto` (the trusted proxy's, else the gateway's own).
 */
export function setForwardingHeaders(headers: IncomingHttpHeaders, peer: Peer): void {
  for (const name of Object.keys(headers)) {
    // Node lower-cases names: only those with `_` need folding.
    const folded = name.includes('_') ? foldedName(name) : name;
    if (!isForwardingHeader(folded)) continue;
    if (!peer.trusted || folded !== name) dropHeader(headers, name);
  }
  const chain = peer.trusted ? headers['x-forwarded-for'] : undefined;
  const hops = [Array.isArray(chain) ? chain.join(', ') : chain, peer.address].filter(Boolean);
  if (hops.length > 0) headers['x-forwarded-for'] = hops.join(', ');
  else dropHeader(headers, 'x-forwarded-for');

  const host = (peer.trusted ? first(headers['x-forwarded-host']) : undefined) ?? headers.host;
  if (host) headers['x-forwarded-host'] = host;
  else dropHeader(headers, 'x-forwarded-host');

  const proto = peer.trusted ? first(headers['x-forwarded-proto'])?.toLowerCase() : undefined;
  headers['x-forwarded-proto'] =
    proto === 'http' || proto === 'https' ? proto : peer.encrypted ? 'https' : 'http';
}
