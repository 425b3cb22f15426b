import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { parseEnv } from '../../src/env';
import { JwtVerifier, TokenError, bearerToken } from '../../src/jwt';

const SECRET = 'unit-test-secret-0123456789abcdef';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPub = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;

function verifier(env: Record<string, string> = {}): JwtVerifier {
  return new JwtVerifier(parseEnv({ JWT_SECRET: SECRET, ...env }).jwt);
}

/** The claims with an `exp` an hour ahead, unless they carry their own: tokens without `exp` are refused by default. */
function expiring(claims: Record<string, unknown>): Record<string, unknown> {
  return { exp: Math.floor(Date.now() / 1000) + 3600, ...claims };
}

function reason(v: JwtVerifier, token: string): string {
  try {
    v.verify(token);
  } catch (err) {
    if (err instanceof TokenError) return err.message;
    throw err;
  }
  return 'accepted';
}

describe('JwtVerifier', () => {
  it('reads the identity from the configured claim names', () => {
    const v = verifier({ JWT_CLAIM_TENANT_ID: 'org', JWT_CLAIM_TIER: 'plan' });
    const t = jwt.sign(expiring({ sub: 'alice', org: 'acme', plan: 'pro', email: 'a@acme.io' }), SECRET);
    expect(v.verify(t)).toEqual({
      userId: 'alice',
      tenantId: 'acme',
      tier: 'pro',
      email: 'a@acme.io',
      role: null,
    });
  });

  it('rejects tokens that name no user and no tenant, or carry claims unfit for a header', () => {
    const v = verifier();
    expect(reason(v, jwt.sign(expiring({ email: 'x@y.z' }), SECRET))).toMatch(/names no user/);
    expect(reason(v, jwt.sign(expiring({ sub: 'a\r\nX-User-Role: admin' }), SECRET))).toBe(
      'claim "sub" must not contain control characters',
    );
    expect(reason(v, jwt.sign(expiring({ sub: { id: 1 } }), SECRET))).toMatch(/must be a string/);
  });

  it.each([
    ['with a trailing space', 'sub', 'u ', 'claim "sub" must not start or end with whitespace'],
    ['with a tab', 'tenant_id', '\tacme', 'claim "tenant_id" must not contain control characters'],
    ['with a C1 control', 'email', 'a@b.c\u0085', 'claim "email" must not contain control characters'],
    ['with DEL', 'role', 'admin\u007f', 'claim "role" must not contain control characters'],
    [
      'with a leading ideographic space',
      'tier',
      '\u3000pro',
      'claim "tier" must not start or end with whitespace',
    ],
    [
      'with an unpaired surrogate',
      'sub',
      'x\ud800',
      'claim "sub" must be valid Unicode (no unpaired surrogates)',
    ],
    ['of 257 characters', 'sub', 'x'.repeat(257), 'claim "sub" must be at most 256 characters'],
  ])('refuses a claim %s (%s), naming the claim', (_label, name, value, message) => {
    expect(reason(verifier(), jwt.sign(expiring({ sub: 'ok', [name]: value }), SECRET))).toBe(message);
  });

  it('takes non-ASCII claims as they are (the gateway meters the raw claim)', () => {
    const t = jwt.sign(expiring({ sub: 'büro user', tenant_id: '租户', email: 'user@例え.jp' }), SECRET);
    expect(verifier().verify(t)).toMatchObject({
      userId: 'büro user',
      tenantId: '租户',
      email: 'user@例え.jp',
    });
  });

  it('refuses a token without exp unless JWT_REQUIRE_EXP is false', () => {
    const t = jwt.sign({ sub: 'forever' }, SECRET);
    expect(reason(verifier(), t)).toBe('token has no expiry ("exp"), and this gateway requires one');
    expect(reason(verifier({ JWT_REQUIRE_EXP: 'false' }), t)).toBe('accepted');
  });

  it('refuses a token whose header lists critical extensions', () => {
    const crit = (list: unknown) =>
      jwt.sign(expiring({ sub: 'a' }), SECRET, { header: { alg: 'HS256', crit: list } as jwt.JwtHeader });
    const expected = 'token header lists critical extensions ("crit") the gateway does not support';
    expect(reason(verifier(), crit(['b64']))).toBe(expected);
    expect(reason(verifier(), crit(['exp']))).toBe(expected);
    expect(reason(verifier(), crit([]))).toBe(expected);
  });

  it('never accepts alg none, an algorithm outside the pinned list, or a public key used as an HMAC secret', () => {
    const v = verifier({ JWT_PUBLIC_KEY: rsaPub, JWT_ALGORITHMS: 'RS256' });
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"a"}').toString('base64url')}.`;
    expect(reason(v, none)).toBe('token algorithm not allowed');
    expect(reason(v, jwt.sign(expiring({ sub: 'a' }), rsaPub, { algorithm: 'HS256' }))).toBe(
      'token algorithm not allowed',
    );
    expect(reason(v, jwt.sign(expiring({ sub: 'a' }), rsa.privateKey, { algorithm: 'RS256' }))).toBe(
      'accepted',
    );
  });

  it('honours exp/nbf with the clock tolerance, and iss/aud when set', () => {
    const v = verifier({
      JWT_ISSUER: 'https://issuer',
      JWT_AUDIENCE: 'tollgate',
      JWT_CLOCK_TOLERANCE_SECONDS: '30',
    });
    const now = Math.floor(Date.now() / 1000);
    const ok = { sub: 'a', iss: 'https://issuer', aud: 'tollgate' };
    expect(reason(v, jwt.sign(expiring({ ...ok, exp: now - 10 }), SECRET))).toBe('accepted');
    expect(reason(v, jwt.sign(expiring({ ...ok, exp: now - 60 }), SECRET))).toBe('token expired');
    expect(reason(v, jwt.sign(expiring({ ...ok, nbf: now + 60 }), SECRET))).toBe('token not yet valid');
    expect(reason(v, jwt.sign(expiring({ ...ok, iss: 'https://evil' }), SECRET))).toBe(
      'token issuer not accepted',
    );
    expect(reason(v, jwt.sign(expiring({ ...ok, aud: 'other' }), SECRET))).toBe(
      'token audience not accepted',
    );
    expect(reason(v, jwt.sign(expiring({ sub: 'a' }), SECRET))).not.toBe('accepted');
  });

  it('rejects malformed and oversized tokens before any crypto', () => {
    const v = verifier();
    expect(reason(v, 'abc')).toBe('malformed token');
    expect(reason(v, 'a.b.c')).toBe('malformed token');
    expect(reason(v, jwt.sign(expiring({ sub: 'a', pad: 'x'.repeat(9000) }), SECRET))).toBe(
      'token too large',
    );
  });

  it('answers a repeated token from its cache, but never past its exp or before its nbf', () => {
    const v = verifier({ JWT_CLOCK_TOLERANCE_SECONDS: '0' });
    const now = Date.now();
    const t = jwt.sign(expiring({ sub: 'a', exp: Math.floor(now / 1000) + 60 }), SECRET);
    expect(v.verify(t).userId).toBe('a');
    expect(v.verify(t).userId).toBe('a');
    const later = jest.spyOn(Date, 'now').mockReturnValue(now + 61_000);
    try {
      expect(reason(v, t)).toBe('token expired');
    } finally {
      later.mockRestore();
    }
    const early = jwt.sign(expiring({ sub: 'b', nbf: Math.floor(now / 1000) + 30 }), SECRET);
    expect(reason(v, early)).toBe('token not yet valid');
    const inside = jest.spyOn(Date, 'now').mockReturnValue(now + 31_000);
    try {
      expect(v.verify(early).userId).toBe('b');
    } finally {
      inside.mockRestore();
    }
  });

  it('parses Bearer headers strictly', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer   abc')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeNull();
    expect(bearerToken('Bearer a b')).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });
});
