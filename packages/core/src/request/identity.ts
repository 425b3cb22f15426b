// Who is calling: the gateway's forwarded identity headers, optionally signature-checked.
import type { IncomingHttpHeaders } from 'node:http';
import { IDENTITY_HEADERS, SIGNATURE_HEADER, verifyIdentitySignature } from '../identity-headers';

/** Identity read from headers. `none`: no identity header at all; `invalid`: headers present but not trustworthy. */
export type HeaderIdentity =
  | { kind: 'none' }
  | { kind: 'ok'; tenantId: string | null; userId: string | null; plan: string | null }
  | { kind: 'invalid'; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' };

export const NO_IDENTITY: HeaderIdentity = { kind: 'none' };

/** One header's value, or null when absent or empty. */
export function header(headers: IncomingHttpHeaders, name: string): string | null {
  const v = headers[name];
  if (v === undefined || v === '') return null;
  return Array.isArray(v) ? (v[0] ?? null) : v;
}

/** Checks the gateway's signature over the identity headers as sent. */
export function checkIdentitySignature(
  headers: IncomingHttpHeaders,
  signingSecret: string,
  maxAgeSeconds: number,
  userId: string | null,
  tenantId: string | null,
  plan: string | null,
): { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' } {
  return verifyIdentitySignature(
    signingSecret,
    header(headers, SIGNATURE_HEADER) ?? undefined,
    {
      userId,
      tenantId,
      tier: plan,
      email: header(headers, IDENTITY_HEADERS.email),
      role: header(headers, IDENTITY_HEADERS.role),
    },
    { maxAgeSeconds },
  );
}

/** Reads `X-User-Id`, `X-Tenant-Id`, `X-User-Tier`; with a secret, they count only under a valid fresh signature. */
export function identityFromHeaders(
  headers: IncomingHttpHeaders,
  signingSecret: string | undefined,
  maxAgeSeconds: number,
): HeaderIdentity {
  const userId = header(headers, IDENTITY_HEADERS.userId);
  const tenantId = header(headers, IDENTITY_HEADERS.tenantId);
  if (userId === null && tenantId === null) return NO_IDENTITY;
  const plan = header(headers, IDENTITY_HEADERS.tier);
  if (signingSecret !== undefined) {
    const check = checkIdentitySignature(headers, signingSecret, maxAgeSeconds, userId, tenantId, plan);
    if (!check.ok) return { kind: 'invalid', reason: check.reason };
  }
  return { kind: 'ok', tenantId, userId, plan };
}
