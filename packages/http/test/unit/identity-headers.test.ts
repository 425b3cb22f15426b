import {
  decodeIdentityValue,
  encodeIdentityValue,
  identityValueProblem,
  signIdentity,
  verifyIdentitySignature,
} from '../../src';
import { identityFromHeaders } from '../../src/internal';

const SECRET = 'identity-unit-secret-0123456789';
const GET_HELLO = { method: 'GET', path: '/api/hello' };

describe('identity values', () => {
  it.each([
    ['a line break', 'u\r\nX-User-Role: admin'],
    ['a tab', 'u\tv'],
    ['NUL', 'u\u0000'],
    ['DEL', 'u\u007f'],
    ['a C1 control', 'u\u0085v'],
    ['a leading space', ' u'],
    ['a trailing space', 'u '],
    ['a trailing no-break space', 'u\u00a0'],
    ['a leading ideographic space', '\u3000u'],
    ['an unpaired surrogate', 'u\ud800'],
  ])('refuses a value with %s', (_name, value) => {
    expect(identityValueProblem(value)).not.toBeNull();
  });

  it.each([
    ['plain ASCII', 'tenant-42_a.b@c:d', 'tenant-42_a.b@c:d'],
    ['inner spaces', 'Acme Corp', 'Acme Corp'],
    ['a percent sign', '100%', '100%25'],
    ['something that looks encoded', '%41', '%2541'],
    ['Latin-1', 'büro', 'b%C3%BCro'],
    ['CJK', '租户', '%E7%A7%9F%E6%88%B7'],
    ['an IDN email', 'user@例え.jp', 'user@%E4%BE%8B%E3%81%88.jp'],
    ['an astral character', 'a😀', 'a%F0%9F%98%80'],
  ])('sends %s as printable ASCII and decodes it back exactly', (_name, value, wire) => {
    expect(identityValueProblem(value)).toBeNull();
    expect(encodeIdentityValue(value)).toBe(wire);
    expect(encodeIdentityValue(value)).toMatch(/^[\x20-\x7e]*$/);
    expect(decodeIdentityValue(wire)).toBe(value);
    expect(decodeURIComponent(wire)).toBe(value);
  });

  it.each([
    ['a broken escape', 'a%E7%A7'],
    ['a bare percent sign', '100%'],
    ['an escaped line break', 'u%0D%0Aroot'],
    ['an escaped trailing space', 'u%20'],
    ['raw non-ASCII', 'b\u00fcro'],
  ])('reads %s as no value the gateway sends', (_name, header) => {
    expect(decodeIdentityValue(header)).toBeNull();
  });
});

describe('identity signature', () => {
  const id = { userId: 'alice', tenantId: 'acme', tier: 'pro', email: 'a@acme.io', role: 'member' };
  const now = Date.now();

  it('verifies for the identity, method and path it was made for', () => {
    const sig = signIdentity(SECRET, id, GET_HELLO);
    expect(sig).toMatch(/^t=\d+,v2=[0-9a-f]{64}$/);
    expect(verifyIdentitySignature(SECRET, sig, id, GET_HELLO)).toEqual({ ok: true });
    expect(verifyIdentitySignature(SECRET, sig, id, { method: 'get', path: '/api/hello' })).toEqual({
      ok: true,
    });
  });

  it.each([
    ['another method', id, { method: 'POST', path: '/api/hello' }],
    ['another path', id, { method: 'GET', path: '/api/admin' }],
    ['another query', id, { method: 'GET', path: '/api/hello?x=1' }],
    ['another tenant', { ...id, tenantId: 'evil' }, GET_HELLO],
    ['another role', { ...id, role: 'admin' }, GET_HELLO],
    ['an added API key id', { ...id, apiKeyId: 'k1' }, GET_HELLO],
    ['a value moved to another field', { ...id, userId: 'acme', tenantId: 'alice' }, GET_HELLO],
  ])('refuses a signature replayed on %s', (_name, claimed, request) => {
    const sig = signIdentity(SECRET, id, GET_HELLO);
    expect(verifyIdentitySignature(SECRET, sig, claimed, request)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('accepts at most 60 s either way by default, or the given window', () => {
    const at = (offset: number) => signIdentity(SECRET, id, GET_HELLO, Math.floor(now / 1000) + offset);
    const check = (sig: string, maxAgeSeconds?: number) =>
      verifyIdentitySignature(SECRET, sig, id, GET_HELLO, { now, maxAgeSeconds }).ok;
    expect([check(at(-60)), check(at(60)), check(at(-61)), check(at(61))]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(verifyIdentitySignature(SECRET, at(-61), id, GET_HELLO, { now })).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect([check(at(-61), 120), check(at(-121), 120)]).toEqual([true, false]);
  });

  it('tells an older layout, a malformed and a missing signature apart', () => {
    const t = Math.floor(now / 1000);
    const verify = (header: string | undefined) =>
      verifyIdentitySignature(SECRET, header, id, GET_HELLO, { now });
    expect(verify(`t=${t},v1=${'0'.repeat(64)}`)).toEqual({ ok: false, reason: 'outdated' });
    expect(verify(`t=${t},v2=xyz`)).toEqual({ ok: false, reason: 'malformed' });
    expect(verify('garbage')).toEqual({ ok: false, reason: 'malformed' });
    expect(verify(undefined)).toEqual({ ok: false, reason: 'missing' });
  });

  it('is checked over the decoded values, so percent-encoded headers verify', () => {
    const tenant = '租户 100%';
    const sig = signIdentity(SECRET, { userId: 'u', tenantId: tenant }, GET_HELLO);
    const headers = {
      'x-user-id': 'u',
      'x-tenant-id': encodeIdentityValue(tenant),
      'x-tollgate-signature': sig,
    };
    expect(identityFromHeaders(headers, GET_HELLO, SECRET, 60)).toEqual({
      kind: 'ok',
      apiKeyId: null,
      userId: 'u',
      tenantId: tenant,
      plan: null,
    });
    expect(identityFromHeaders(headers, { method: 'DELETE', path: '/api/hello' }, SECRET, 60)).toEqual({
      kind: 'invalid',
      reason: 'mismatch',
    });
    expect(identityFromHeaders({ ...headers, 'x-tenant-id': '%E7' }, GET_HELLO, SECRET, 60)).toEqual({
      kind: 'invalid',
      reason: 'undecodable',
      header: 'x-tenant-id',
    });
  });
});
