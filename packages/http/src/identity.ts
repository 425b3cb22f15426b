// Who is calling: the gateway's forwarded identity headers, decoded, and optionally signature-checked.
import type { IncomingHttpHeaders } from 'node:http';
import {
  IDENTITY_HEADERS,
  SIGNATURE_HEADER,
  decodeIdentityValue,
  verifyIdentitySignature,
  type SignatureFailure,
  type SignedRequest,
} from './identity-headers';

/** Why identity headers were present but not trusted: a signature failure, or a header the gateway cannot have sent. */
export type IdentityFailure = SignatureFailure | 'undecodable';

/** Identity read from headers. `none`: no identity header at all; `invalid`: headers present but not trustworthy. */
export type HeaderIdentity =
  | { kind: 'none' }
  | {
      kind: 'ok';
      tenantId: string | null;
      userId: string | null;
      plan: string | null;
      apiKeyId: string | null;
    }
  | { kind: 'invalid'; reason: IdentityFailure; header?: string };

export const NO_IDENTITY: HeaderIdentity = { kind: 'none' };

/** One header's value, or null when absent or empty. */
export function header(headers: IncomingHttpHeaders, name: string): string | null {
  const v = headers[name];
  if (v === undefined || v === '') return null;
  return Array.isArray(v) ? (v[0] ?? null) : v;
}

/** Thrown inside `identityFromHeaders` when a header does not decode; caught there. */
class Undecodable extends Error {
  constructor(readonly header: string) {
    super(`${header} does not decode`);
  }
}

/** One identity header, percent-decoded (see `encodeIdentityValue`); null when absent. */
function decoded(headers: IncomingHttpHeaders, name: string): string | null {
  const raw = header(headers, name);
  if (raw === null) return null;
  const value = decodeIdentityValue(raw);
  if (value === null) throw new Undecodable(name);
  return value;
}

/**
 * Reads `X-User-Id`, `X-Tenant-Id`, `X-User-Tier`, `X-Api-Key-Id` (percent-decoded, as the gateway encodes non-ASCII values). With
 * a secret they count only under a valid signature no older than `maxAgeSeconds`, made for this request's method
 * and path (`request.path`: the target as received, `req.originalUrl` under Express).
 */
export function identityFromHeaders(
  headers: IncomingHttpHeaders,
  request: SignedRequest,
  signingSecret: string | undefined,
  maxAgeSeconds: number,
): HeaderIdentity {
  try {
    const userId = decoded(headers, IDENTITY_HEADERS.userId);
    const tenantId = decoded(headers, IDENTITY_HEADERS.tenantId);
    if (userId === null && tenantId === null) return NO_IDENTITY;
    const plan = decoded(headers, IDENTITY_HEADERS.tier);
    const apiKeyId = decoded(headers, IDENTITY_HEADERS.apiKeyId);
    if (signingSecret !== undefined) {
      const check = verifyIdentitySignature(
        signingSecret,
        header(headers, SIGNATURE_HEADER) ?? undefined,
        {
          userId,
          tenantId,
          tier: plan,
          email: decoded(headers, IDENTITY_HEADERS.email),
          role: decoded(headers, IDENTITY_HEADERS.role),
          apiKeyId,
        },
        request,
        { maxAgeSeconds },
      );
      if (!check.ok) return { kind: 'invalid', reason: check.reason };
    }
    return { kind: 'ok', tenantId, userId, plan, apiKeyId };
  } catch (err) {
    if (err instanceof Undecodable) return { kind: 'invalid', reason: 'undecodable', header: err.header };
    throw err;
  }
}

/** The 401 detail for identity headers that were not trusted. */
export function identityFailureDetail(reason: IdentityFailure, maxAgeSeconds: number, name?: string): string {
  switch (reason) {
    case 'undecodable':
      return `The identity header ${name ?? ''} is not a value the gateway sends (printable ASCII, non-ASCII as UTF-8 percent escapes).`;
    case 'outdated':
      return "The identity headers' signature is outdated (a layout that does not cover the method and path): update the gateway.";
    case 'stale':
      return `The identity headers' signature is stale (more than ${maxAgeSeconds} s from now).`;
    case 'mismatch':
      return "The identity headers' signature is a mismatch (bad signature: another secret, or the identity, method or path differ from what the gateway signed).";
    default:
      return `The identity headers' signature is ${reason}.`;
  }
}
