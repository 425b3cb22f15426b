// Identity headers the gateway forwards upstream: their names, value encoding, and HMAC signature (checked by the middleware).
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

/** `t=<unix seconds>,v2=<hex HMAC-SHA256>` over the identity, the method, the forwarded path and the timestamp. */
export const SIGNATURE_HEADER = 'x-tollgate-signature';

/** The signature layout this version writes and verifies; `v1` (identity and timestamp only) is refused. */
export const SIGNATURE_VERSION = 'v2';

/** Who the identity headers name, as the gateway verified it (decoded values, not percent-encoded). */
export interface ForwardedIdentity {
  userId?: string | null;
  tenantId?: string | null;
  tier?: string | null;
  email?: string | null;
  role?: string | null;
  apiKeyId?: string | null;
}

/** The request a signature is bound to: a captured header set is worthless on any other method or path. */
export interface SignedRequest {
  /** As the upstream receives it (`req.method`). */
  method: string;
  /** The path and query the upstream receives (`req.url`; Express: `req.originalUrl`). */
  path: string;
}

// --- Values ---------------------------------------------------------------------------------------------

// C0, DEL and C1 controls: no header line may carry them, and no id should.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const SURROUNDING_SPACE = /^\s|\s$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const PRINTABLE = /^[\x20-\x7e]*$/;
/** Values sent as they are: printable ASCII other than `%`. */
const PLAIN = /^[\x20-\x24\x26-\x7e]*$/;
const ENCODED = /[%\u0080-\u{10ffff}]/gu;

/**
 * Why `value` cannot be an identity (a JWT claim, a key's field), or null when it can: control characters
 * (C0, DEL, C1), leading or trailing whitespace (HTTP strips it, so the upstream would see another id than the
 * one metered) and unpaired UTF-16 surrogates (no UTF-8 form) are refused.
 */
export function identityValueProblem(value: string): string | null {
  if (CONTROL.test(value)) return 'must not contain control characters';
  if (SURROUNDING_SPACE.test(value)) return 'must not start or end with whitespace';
  if (LONE_SURROGATE.test(value)) return 'must be valid Unicode (no unpaired surrogates)';
  return null;
}

/**
 * The header value for an identity value that passed `identityValueProblem`: printable ASCII is sent as it is,
 * except `%`, which becomes `%25`; every other character becomes the `%XX` escapes of its UTF-8 bytes (upper-case
 * hex, as `encodeURIComponent` writes them). So the value is always printable ASCII, and
 * `decodeURIComponent` gives back exactly the original.
 */
export function encodeIdentityValue(value: string): string {
  return PLAIN.test(value) ? value : value.replace(ENCODED, (c) => encodeURIComponent(c));
}

/**
 * The identity value a header carries, decoded as `encodeIdentityValue` wrote it; null when it is no value the
 * gateway could have sent: anything but printable ASCII, a broken `%` escape, or a decoded value that
 * `identityValueProblem` refuses (so `%0A` cannot smuggle a line break into an id).
 */
export function decodeIdentityValue(header: string): string | null {
  if (!PRINTABLE.test(header)) return null;
  if (!header.includes('%')) return SURROUNDING_SPACE.test(header) ? null : header;
  let value: string;
  try {
    value = decodeURIComponent(header);
  } catch {
    return null;
  }
  return identityValueProblem(value) === null ? value : null;
}

// --- Signature ------------------------------------------------------------------------------------------

function payload(timestamp: number, request: SignedRequest, id: ForwardedIdentity): string {
  // Newline-separated, prefixed by the version: no value (never a control character) and no path (a request
  // target has no line breaks) can shift into another's position, and no v1 MAC verifies as v2.
  return [
    'tollgate-identity-v2',
    timestamp,
    request.method.toUpperCase(),
    request.path,
    id.userId ?? '',
    id.tenantId ?? '',
    id.tier ?? '',
    id.email ?? '',
    id.role ?? '',
    id.apiKeyId ?? '',
  ].join('\n');
}

function mac(secret: string, timestamp: number, request: SignedRequest, id: ForwardedIdentity): Buffer {
  return createHmac('sha256', secret)
    .update(payload(timestamp, request, id))
    .digest();
}

/** The `X-Tollgate-Signature` value for `id` forwarded as `request` at `timestamp` (unix seconds). */
export function signIdentity(
  secret: string,
  id: ForwardedIdentity,
  request: SignedRequest,
  timestamp = Math.floor(Date.now() / 1000),
): string {
  return `t=${timestamp},${SIGNATURE_VERSION}=${mac(secret, timestamp, request, id).toString('hex')}`;
}

/** Why a signature was refused: absent, unreadable, an older layout, outside the age window, or not matching. */
export type SignatureFailure = 'missing' | 'malformed' | 'outdated' | 'stale' | 'mismatch';

export type SignatureCheck = { ok: true } | { ok: false; reason: SignatureFailure };

/** Default of `maxAgeSeconds`: how far a signature's timestamp may be from now, either way. */
export const SIGNATURE_MAX_AGE_SECONDS = 60;

/**
 * Verifies a signature header for `id` received as `request`. `maxAgeSeconds` (default 60) bounds how long a
 * captured header set can be replayed, and only on the same method and path.
 */
export function verifyIdentitySignature(
  secret: string,
  header: string | undefined,
  id: ForwardedIdentity,
  request: SignedRequest,
  options: { maxAgeSeconds?: number; now?: number } = {},
): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing' };
  const m = /^t=(\d{1,12}),(v\d{1,3})=([0-9a-f]{64})$/.exec(header.trim());
  if (!m) return { ok: false, reason: 'malformed' };
  if (m[2] !== SIGNATURE_VERSION) return { ok: false, reason: 'outdated' };
  const timestamp = Number(m[1]);
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(now - timestamp) > (options.maxAgeSeconds ?? SIGNATURE_MAX_AGE_SECONDS)) {
    return { ok: false, reason: 'stale' };
  }
  const expected = mac(secret, timestamp, request, id);
  const given = Buffer.from(m[3]!, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected)
    ? { ok: true }
    : { ok: false, reason: 'mismatch' };
}
