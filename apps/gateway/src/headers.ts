// Header hygiene both ways: hop-by-hop and Connection-listed headers, identity headers and their look-alikes, signature.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { IDENTITY_HEADERS, SIGNATURE_HEADER, encodeIdentityValue, signIdentity } from '@tollgate/http';
import type { GatewayIdentity } from './jwt';

/** RFC 9110 §7.6.1 hop-by-hop headers, plus the non-standard ones proxies also drop. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Headers the gateway sets itself, after dropping whatever the client sent under these names or look-alikes;
 * and the method overrides some frameworks honour, which are never forwarded: the gateway meters the request
 * line's method, so an upstream taking a GET for the POST it names would serve an LLM call unmetered.
 */
const GATEWAY_OWNED: ReadonlySet<string> = new Set([
  ...Object.values(IDENTITY_HEADERS),
  SIGNATURE_HEADER,
  'authorization',
  // A Tollgate API key is the client's credential, like its JWT: never forwarded.
  'x-api-key',
  'x-request-id',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
]);

/**
 * A header name as servers that fold `_` into `-` read it (CGI, WSGI and Rack turn both `X-User-Id` and
 * `X_User_Id` into `HTTP_X_USER_ID`): lower-case, `_` as `-`.
 */
export function foldedName(name: string): string {
  return name.toLowerCase().replace(/_/g, '-');
}

/** True for a name that is, or reads upstream as, a header only the gateway may set. */
export function isGatewayOwned(name: string): boolean {
  return GATEWAY_OWNED.has(foldedName(name));
}

/**
 * Never dropped because a Connection header names them: the request would lose its target, or its framing (without
 * Content-Length, Node sends a GET/HEAD/DELETE/OPTIONS body unframed, and the upstream reads it as the next request).
 */
const PROTECTED: ReadonlySet<string> = new Set(['host', 'content-length']);

/** Lower-cased names a Connection header lists (all of them, across duplicates). */
export function connectionListed(value: string | string[] | number | undefined): string[] {
  if (value === undefined || value === 'keep-alive' || value === 'close') return [];
  const text = Array.isArray(value) ? value.join(',') : String(value);
  return text
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t.length > 0 && t !== 'close' && t !== 'keep-alive');
}

/** Names to drop from a message whose headers are `headers`: hop-by-hop plus Connection-listed. */
export function droppedHeaders(headers: IncomingHttpHeaders | OutgoingHttpHeaders): ReadonlySet<string> {
  const listed = connectionListed(headers.connection);
  // The common message lists nothing (or only close/keep-alive): the fixed set, not a copy per message.
  if (listed.length === 0) return HOP_BY_HOP;
  const out = new Set(HOP_BY_HOP);
  for (const name of listed) if (!PROTECTED.has(name)) out.add(name);
  return out;
}

/**
 * Removes `name` from a request's headers without `delete`, which turns Node's header object into a slow
 * dictionary for the rest of the request (about 1.3 µs per request, micro-benched): the name is kept with no value,
 * which the upstream client (undici) sends nothing for.
 */
export function dropHeader(headers: IncomingHttpHeaders, name: string): void {
  if (headers[name] !== undefined) headers[name] = undefined;
}

/**
 * Replaces every client-sent identity header (any case, any repeat: Node lower-cases names and merges repeats
 * into one entry; and any spelling with `_` for `-`), the signature, the client's Authorization and X-Request-Id
 * with the verified identity (a missing claim is omitted, never sent empty; non-ASCII values percent-encoded,
 * see `encodeIdentityValue`), the upstream credentials and the request id. The signature is added when the
 * upstream request's path is final (`forwardedSignature`).
 */
export function setForwardedIdentity(
  headers: IncomingHttpHeaders,
  id: GatewayIdentity,
  upstreamAuthorization: string | null,
  requestId: string,
): void {
  for (const name of GATEWAY_OWNED) dropHeader(headers, name);
  for (const name of Object.keys(headers))
    if (name.includes('_') && isGatewayOwned(name)) dropHeader(headers, name);
  const values: Array<[string, string | null]> = [
    [IDENTITY_HEADERS.userId, id.userId],
    [IDENTITY_HEADERS.tenantId, id.tenantId],
    [IDENTITY_HEADERS.tier, id.tier],
    [IDENTITY_HEADERS.email, id.email],
    [IDENTITY_HEADERS.role, id.role],
    [IDENTITY_HEADERS.apiKeyId, id.apiKeyId ?? null],
  ];
  for (const [name, value] of values) if (value !== null) headers[name] = encodeIdentityValue(value);
  if (upstreamAuthorization) headers.authorization = upstreamAuthorization;
  headers['x-request-id'] = requestId;
}

/**
 * The signature of the identity for exactly the request the upstream receives: its method and its path and query
 * as they go on the wire (after the canonical step, STRIP_PREFIX and the upstream URL's own path), so a captured
 * header set is refused on any other method or path.
 */
export function forwardedSignature(
  secret: string,
  id: GatewayIdentity,
  request: { method: string; path: string },
): string {
  return signIdentity(secret, id, request);
}

/** Response headers to pass to the client: everything but hop-by-hop and Connection-listed ones. */
export function clientResponseHeaders(upstream: IncomingHttpHeaders): Array<[string, string | string[]]> {
  const drop = droppedHeaders(upstream);
  const out: Array<[string, string | string[]]> = [];
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || drop.has(name)) continue;
    out.push([name, value]);
  }
  return out;
}
