// JWT verification with pinned algorithms, and the verified identity the gateway forwards.
import jwt, { type Algorithm, type JwtPayload, type VerifyOptions } from 'jsonwebtoken';
import { createSecretKey, type KeyObject } from 'node:crypto';
import { identityValueProblem } from '@tollgate/core';
import { HMAC_ALGORITHMS, type JwtSettings } from './env';

/** Who a verified token names. Claims that are absent stay null (their headers are omitted). */
export interface GatewayIdentity {
  userId: string | null;
  tenantId: string | null;
  tier: string | null;
  email: string | null;
  role: string | null;
}

/** A token that must not pass; `message` is safe to show the client (never echoes the token). */
export class TokenError extends Error {
  override name = 'TokenError';
}

const MAX_CLAIM_LENGTH = 256;
const JWS_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * A claim as the identity it names, or null when absent. A value that cannot name the same identity at the gateway
 * and upstream (control characters, surrounding whitespace, unpaired surrogates) is refused; other non-ASCII
 * values are fine: they are forwarded percent-encoded.
 */
function claim(payload: JwtPayload, name: string): string | null {
  const v = payload[name];
  if (v === undefined || v === null || v === '') return null;
  const text = typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : null;
  if (text === null) throw new TokenError(`claim "${name}" must be a string`);
  if (text.length > MAX_CLAIM_LENGTH) {
    throw new TokenError(`claim "${name}" must be at most ${MAX_CLAIM_LENGTH} characters`);
  }
  const problem = identityValueProblem(text);
  if (problem !== null) throw new TokenError(`claim "${name}" ${problem}`);
  return text;
}

/** A verified token, remembered until it expires: the signature and claims of identical bytes cannot change. */
interface CachedToken {
  identity: GatewayIdentity;
  /** Epoch seconds (with the clock tolerance applied) outside which the token must be re-checked; null = none. */
  notBefore: number | null;
  expires: number | null;
}

/**
 * Most tokens remembered; the oldest are forgotten first. Above the number of tokens in use at once, or
 * clients cycling through them miss every time (a tenth is forgotten at a time); ~0.5 KB each.
 */
const CACHE_MAX = 50_000;

export class JwtVerifier {
  private readonly cache = new Map<string, CachedToken>();
  private readonly options: VerifyOptions;
  private readonly hmac: Set<string>;
  /** The secret as a KeyObject once: given a string, jsonwebtoken tries (and fails) to parse it as a PEM on every call. */
  private readonly secretKey: KeyObject | null;

  constructor(private readonly settings: JwtSettings) {
    this.hmac = new Set<string>(HMAC_ALGORITHMS);
    this.secretKey = settings.secret ? createSecretKey(Buffer.from(settings.secret, 'utf8')) : null;
    const opts: VerifyOptions = {
      algorithms: settings.algorithms as Algorithm[],
      clockTolerance: settings.clockToleranceSec,
    };
    if (settings.issuer) opts.issuer = settings.issuer;
    if (settings.audience)
      opts.audience =
        settings.audience.length === 1 ? settings.audience[0]! : (settings.audience as [string, ...string[]]);
    this.options = opts;
  }

  /**
   * The key for the token's algorithm: the secret for HS*, the public key otherwise (never one for the other). A
   * header with `crit` is refused: it names extensions that must be understood, and the gateway understands none.
   */
  private keyFor(token: string): KeyObject {
    let header: unknown;
    try {
      header = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'));
    } catch {
      throw new TokenError('malformed token');
    }
    if (header === null || typeof header !== 'object') throw new TokenError('malformed token');
    const { alg } = header as { alg?: unknown };
    if (typeof alg !== 'string' || !this.settings.algorithms.includes(alg as never)) {
      throw new TokenError('token algorithm not allowed');
    }
    if ('crit' in header) {
      throw new TokenError('token header lists critical extensions ("crit") the gateway does not support');
    }
    const key = this.hmac.has(alg) ? this.secretKey : this.settings.publicKey;
    if (!key) throw new TokenError('token algorithm not allowed');
    return key;
  }

  /**
   * Verifies a bearer token and returns the identity it names; throws TokenError otherwise. A token
   * verified before is answered from a bounded cache while its exp/nbf window (with the clock
   * tolerance) still holds; keys, algorithms, issuer and audience are fixed for the process.
   */
  verify(token: string): GatewayIdentity {
    const hit = this.cache.get(token);
    if (hit !== undefined) {
      const now = Date.now() / 1000;
      if ((hit.expires === null || now < hit.expires) && (hit.notBefore === null || now >= hit.notBefore)) {
        return hit.identity;
      }
      this.cache.delete(token);
    }
    return this.verifyUncached(token);
  }

  private remember(token: string, identity: GatewayIdentity, payload: JwtPayload): void {
    if (this.cache.size >= CACHE_MAX) {
      // Map iteration is insertion order: drop the oldest tenth at once.
      let n = CACHE_MAX / 10;
      for (const key of this.cache.keys()) {
        this.cache.delete(key);
        if (--n <= 0) break;
      }
    }
    const tol = this.settings.clockToleranceSec;
    this.cache.set(token, {
      identity,
      expires: typeof payload.exp === 'number' ? payload.exp + tol : null,
      notBefore: typeof payload.nbf === 'number' ? payload.nbf - tol : null,
    });
  }

  private verifyUncached(token: string): GatewayIdentity {
    if (token.length > this.settings.maxTokenLength) throw new TokenError('token too large');
    if (!JWS_SHAPE.test(token)) throw new TokenError('malformed token');
    let payload: string | JwtPayload;
    try {
      payload = jwt.verify(token, this.keyFor(token), this.options);
    } catch (err) {
      if (err instanceof TokenError) throw err;
      throw new TokenError(reason(err));
    }
    if (typeof payload !== 'object' || payload === null)
      throw new TokenError('token payload must be a JSON object');
    if (this.settings.requireExp && payload.exp === undefined) {
      throw new TokenError('token has no expiry ("exp"), and this gateway requires one');
    }
    const c = this.settings.claims;
    const identity: GatewayIdentity = {
      userId: claim(payload, c.userId),
      tenantId: claim(payload, c.tenantId),
      tier: claim(payload, c.tier),
      email: claim(payload, c.email),
      role: claim(payload, c.role),
    };
    if (!identity.userId && !identity.tenantId) {
      throw new TokenError(`token names no user ("${c.userId}") and no tenant ("${c.tenantId}")`);
    }
    this.remember(token, identity, payload);
    return identity;
  }
}

/** A short client-facing reason from a jsonwebtoken error. */
function reason(err: unknown): string {
  if (err instanceof jwt.TokenExpiredError) return 'token expired';
  if (err instanceof jwt.NotBeforeError) return 'token not yet valid';
  if (err instanceof jwt.JsonWebTokenError) {
    const m = err.message;
    if (m.startsWith('jwt audience invalid')) return 'token audience not accepted';
    if (m.startsWith('jwt issuer invalid')) return 'token issuer not accepted';
    if (m === 'invalid signature') return 'invalid token signature';
    if (
      m === 'invalid algorithm' ||
      m.includes('must be a symmetric key') ||
      m.includes('must be an asymmetric key')
    ) {
      return 'token algorithm not allowed';
    }
    if (m === 'jwt signature is required') return 'unsigned tokens are not accepted';
    return 'malformed token';
  }
  return 'invalid token';
}

/** The bearer token of an Authorization header, or null when there is none. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header);
  return m ? m[1]! : null;
}
