// Identity headers the gateway forwards upstream, and their HMAC signature (verified by the middleware).
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Forwarded identity headers (lower-case, as Node exposes them). */
export const IDENTITY_HEADERS = {
  userId: 'x-user-id',
  tenantId: 'x-tenant-id',
  tier: 'x-user-tier',
  email: 'x-user-email',
  role: 'x-user-role',
  apiKeyId: 'x-api-key-id',
} as const;

/** `t=<unix seconds>,v1=<hex HMAC-SHA256>` over the timestamp and the identity values. */
export const SIGNATURE_HEADER = 'x-tollgate-signature';

export interface ForwardedIdentity {
  userId?: string | null;
  tenantId?: string | null;
  tier?: string | null;
  email?: string | null;
  role?: string | null;
}

function payload(timestamp: number, id: ForwardedIdentity): string {
  // Newline-separated so no value can shift into another's position (values never contain newlines).
  return [timestamp, id.userId ?? '', id.tenantId ?? '', id.tier ?? '', id.email ?? '', id.role ?? ''].join(
    '\n',
  );
}

export function signIdentity(
  secret: string,
  id: ForwardedIdentity,
  timestamp = Math.floor(Date.now() / 1000),
): string {
  const mac = createHmac('sha256', secret).update(payload(timestamp, id)).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

export type SignatureCheck =
  { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' };

/** Verifies a signature header; `maxAgeSeconds` bounds replay of a captured header. */
export function verifyIdentitySignature(
  secret: string,
  header: string | undefined,
  id: ForwardedIdentity,
  options: { maxAgeSeconds?: number; now?: number } = {},
): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing' };
  const m = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header.trim());
  if (!m) return { ok: false, reason: 'malformed' };
  const timestamp = Number(m[1]);
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(now - timestamp) > (options.maxAgeSeconds ?? 300)) return { ok: false, reason: 'stale' };
  const expected = createHmac('sha256', secret).update(payload(timestamp, id)).digest();
  const given = Buffer.from(m[2]!, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected)
    ? { ok: true }
    : { ok: false, reason: 'mismatch' };
}
