// JWT verification with pinned algorithms, and the verified identity the gateway forwards.
import jwt, { type Algorithm, type VerifyOptions } from 'jsonwebtoken';
import { errors as joseErrors, jwtVerify, type JWTVerifyOptions } from 'jose';
import { createSecretKey, type KeyObject } from 'node:crypto';
import { identityValueProblem } from '@tollgate/http';
import { HMAC_ALGORITHMS, type JwtSettings } from './env';
import { JwksKeySet, type JwksKey, type JwksOptions } from './jwks';

type Claims = Record<string, unknown>;

/** Who a verified token names. Claims that are absent stay null (their headers are omitted). */
export interface GatewayIdentity {
  userId: string | null;
  tenantId: string | null;
  tier: string | null;
  email: string | null;
  role: string | null;
  /** The API key the request came with (`X-Api-Key-Id` upstream); absent for a JWT. */
  apiKeyId?: string | null;
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
function claim(payload: Claims, name: string): string | null {
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
  /** The provider key that verified it: once dropped from its set, the token is verified again. */
  jwksKey: JwksKey | null;
}

export interface JwtVerifierOptions {
  /** Overrides of the JWKS set's timing (tests); its URLs come from the settings. */
  jwks?: Omit<JwksOptions, 'urls'>;
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
  /** The identity providers' keys (JWT_JWKS_URL), when configured. */
  readonly jwks: JwksKeySet | null;
  private readonly joseOptions: JWTVerifyOptions;

  constructor(
    private readonly settings: JwtSettings,
    options: JwtVerifierOptions = {},
  ) {
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
    this.joseOptions = {
      clockTolerance: settings.clockToleranceSec,
      ...(settings.issuer ? { issuer: settings.issuer } : {}),
      ...(settings.audience ? { audience: settings.audience } : {}),
    };
    this.jwks =
      settings.jwksUrls.length > 0
        ? new JwksKeySet({
            urls: settings.jwksUrls,
            ...options.jwks,
          })
        : null;
  }

  close(): void {
    this.jwks?.close();
  }

  /**
   * The key for the token's algorithm: the secret for HS*, the public key otherwise (never one for the other). A
   * header with `crit` is refused: it names extensions that must be understood, and the gateway understands none.
   */
  private headerOf(token: string): { alg: string; kid: string | null } {
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
    const { kid } = header as { kid?: unknown };
    return { alg, kid: typeof kid === 'string' ? kid : null };
  }

  /** The PEM key or HS secret for a token's algorithm (never one for the other). */
  private staticKey(alg: string): KeyObject {
    const key = this.hmac.has(alg) ? this.secretKey : this.settings.publicKey;
    if (!key) throw new TokenError('token algorithm not allowed');
    return key;
  }

  /**
   * Verifies a bearer token and returns the identity it names; throws (or rejects with) TokenError otherwise. A
   * token verified before is answered synchronously from a bounded cache while its exp/nbf window (with the clock
   * tolerance) still holds and its provider key is still published; algorithms, issuer and audience are fixed for
   * the process. Only a token seen for the first time with an asymmetric algorithm under JWKS is a promise.
   */
  verify(token: string): GatewayIdentity | Promise<GatewayIdentity> {
    const hit = this.cache.get(token);
    if (hit !== undefined) {
      const now = Date.now() / 1000;
      if (
        (hit.expires === null || now < hit.expires) &&
        (hit.notBefore === null || now >= hit.notBefore) &&
        (hit.jwksKey === null || this.jwks?.holds(hit.jwksKey) === true)
      ) {
        return hit.identity;
      }
      this.cache.delete(token);
    }
    return this.verifyUncached(token);
  }

  private remember(token: string, identity: GatewayIdentity, payload: Claims, jwksKey: JwksKey | null): void {
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
      jwksKey,
    });
  }

  private verifyUncached(token: string): GatewayIdentity | Promise<GatewayIdentity> {
    if (token.length > this.settings.maxTokenLength) throw new TokenError('token too large');
    if (!JWS_SHAPE.test(token)) throw new TokenError('malformed token');
    const { alg, kid } = this.headerOf(token);
    // An asymmetric token is verified against the providers' keys only, HS* against the secret only (SPEC §11).
    if (this.jwks !== null && !this.hmac.has(alg)) return this.verifyWithJwks(this.jwks, token, alg, kid);
    let payload: unknown;
    try {
      payload = jwt.verify(token, this.staticKey(alg), this.options);
    } catch (err) {
      if (err instanceof TokenError) throw err;
      throw new TokenError(reason(err));
    }
    return this.accept(token, payload, null);
  }

  private async verifyWithJwks(
    jwks: JwksKeySet,
    token: string,
    alg: string,
    kid: string | null,
  ): Promise<GatewayIdentity> {
    const key = await jwks.resolve(kid, alg);
    if (key === null)
      throw new TokenError(
        kid === null
          ? 'token names no key id ("kid") the identity provider keys can be chosen by'
          : 'token key id ("kid") is not in the identity provider key set',
      );
    let payload: unknown;
    try {
      // The key's one algorithm: what the set declares for it, never another.
      ({ payload } = await jwtVerify(token, key.key, { ...this.joseOptions, algorithms: [key.alg] }));
    } catch (err) {
      throw new TokenError(joseReason(err));
    }
    return this.accept(token, payload, key);
  }

  /** The identity of a verified payload (exp required when configured, claims fit for headers), remembered. */
  private accept(token: string, payload: unknown, jwksKey: JwksKey | null): GatewayIdentity {
    if (typeof payload !== 'object' || payload === null)
      throw new TokenError('token payload must be a JSON object');
    const claims = payload as Claims;
    if (this.settings.requireExp && claims.exp === undefined) {
      throw new TokenError('token has no expiry ("exp"), and this gateway requires one');
    }
    const c = this.settings.claims;
    const identity: GatewayIdentity = {
      userId: claim(claims, c.userId),
      tenantId: claim(claims, c.tenantId),
      tier: claim(claims, c.tier),
      email: claim(claims, c.email),
      role: claim(claims, c.role),
    };
    if (!identity.userId && !identity.tenantId) {
      throw new TokenError(`token names no user ("${c.userId}") and no tenant ("${c.tenantId}")`);
    }
    this.remember(token, identity, claims, jwksKey);
    return identity;
  }
}

/** A short client-facing reason from a jose error. */
function joseReason(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'token expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return 'token not yet valid';
    if (err.claim === 'aud') return 'token audience not accepted';
    if (err.claim === 'iss') return 'token issuer not accepted';
    return `token claim "${err.claim}" is invalid`;
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'invalid token signature';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm not allowed';
  return 'malformed token';
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
