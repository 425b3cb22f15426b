// JWT_JWKS_URL through the gateway: a local identity provider rotates its keys, a flood of unknown kids is refused
// without a fetch each, and algorithms are pinned to what the set declares.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';
import jwt from 'jsonwebtoken';
import { MemoryStore } from '@tollgate/core';
import { createTestDatabase } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { SECRET, startGateway, type RunningGateway } from '../support/kit';

const ISSUER = 'https://id.example.com';
const AUDIENCE = 'tollgate-api';

interface ProviderKey {
  kid: string;
  alg: string;
  privateKey: KeyLike;
  jwk: JWK;
}

async function providerKey(kid: string, alg: 'RS256' | 'ES256' | 'EdDSA'): Promise<ProviderKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** A JWKS endpoint that counts its fetches and serves whatever keys the test publishes. */
class Provider {
  keys: ProviderKey[] = [];
  fetches = 0;
  url = '';
  private server = http.createServer((_req, res) => {
    this.fetches++;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ keys: this.keys.map((k) => k.jwk) }));
  });
  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`;
    return this;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

function sign(
  key: ProviderKey,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header } as never)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(key.privateKey);
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

describe('JWKS (JWT_JWKS_URL)', () => {
  let upstream: LlmUpstream;
  let provider: Provider;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };
  let clock = Date.now();
  let rsaA: ProviderKey;
  let rsaB: ProviderKey;
  let ec: ProviderKey;
  let ed: ProviderKey;

  beforeAll(async () => {
    [rsaA, rsaB, ec, ed] = await Promise.all([
      providerKey('rsa-a', 'RS256'),
      providerKey('rsa-b', 'RS256'),
      providerKey('ec-1', 'ES256'),
      providerKey('ed-1', 'EdDSA'),
    ]);
    upstream = await new LlmUpstream().start();
    provider = await new Provider().start();
    provider.keys = [rsaA, ec, ed];
    db = await createTestDatabase('gw_jwks');
    gw = await startGateway(
      {
        JWT_JWKS_URL: provider.url,
        JWT_ISSUER: ISSUER,
        JWT_AUDIENCE: AUDIENCE,
        UPSTREAM_URL: upstream.url,
        DATABASE_URL: db.url,
        FLUSHER: 'off',
      },
      { store: new MemoryStore(), jwks: { now: () => clock } },
    );
    // The set is fetched once at start.
    await until(() => provider.fetches === 1);
  });

  afterAll(async () => {
    await gw?.close();
    await provider?.stop();
    await upstream?.stop();
    await db?.drop();
  });

  const call = (authorization: string) => fetch(`${gw.url}/api/hello`, { headers: { authorization } });

  async function refusal(authorization: string): Promise<string> {
    const before = upstream.received.length;
    const res = await call(authorization);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(upstream.received.length).toBe(before);
    return ((await res.json()) as { detail: string }).detail;
  }

  it.each([
    ['RS256', () => rsaA],
    ['ES256', () => ec],
    ['EdDSA', () => ed],
  ])('accepts a %s token by its kid and forwards its identity', async (_alg, key) => {
    const res = await call(`Bearer ${await sign(key(), { sub: `u-${key().kid}`, tenant_id: 'acme' })}`);
    expect(res.status).toBe(200);
    expect(upstream.last().headers).toMatchObject({ 'x-user-id': `u-${key().kid}`, 'x-tenant-id': 'acme' });
  });

  it('still verifies HS256 tokens against JWT_SECRET, and only against it', async () => {
    const hs = jwt.sign({ sub: 'svc', iss: ISSUER, aud: AUDIENCE }, SECRET, {
      algorithm: 'HS256',
      expiresIn: '1h',
    });
    expect((await call(`Bearer ${hs}`)).status).toBe(200);
    // The classic confusion: an HS256 token "signed" with a provider's public key is never checked against it.
    const publicAsSecret = jwt.sign(
      { sub: 'mallory', iss: ISSUER, aud: AUDIENCE },
      JSON.stringify(rsaA.jwk),
      {
        algorithm: 'HS256',
        expiresIn: '1h',
        keyid: rsaA.kid,
      },
    );
    expect(await refusal(`Bearer ${publicAsSecret}`)).toBe('invalid token signature');
  });

  it('refuses a token signed by a key not in the set, under a known or an unknown kid', async () => {
    const stranger = await providerKey('rsa-a', 'RS256');
    expect(await refusal(`Bearer ${await sign(stranger, { sub: 'mallory' })}`)).toBe(
      'invalid token signature',
    );
    const unknown = { ...stranger, kid: 'stranger' };
    expect(await refusal(`Bearer ${await sign(unknown, { sub: 'mallory' })}`)).toMatch(
      /not in the identity provider key set/,
    );
  });

  it('refuses an algorithm the set does not declare for the key, and "none"', async () => {
    // rsa-a is published as RS256: a PS256 signature by the same private key is refused.
    const ps = await new SignJWT({ sub: 'mallory' })
      .setProtectedHeader({ alg: 'PS256', kid: rsaA.kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('10m')
      .sign(rsaA.privateKey);
    expect(await refusal(`Bearer ${ps}`)).toMatch(
      /not in the identity provider key set|algorithm not allowed/,
    );
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: rsaA.kid })).toString('base64url')}.${Buffer.from(
      JSON.stringify({ sub: 'mallory', iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 60 }),
    ).toString('base64url')}.`;
    expect(await refusal(`Bearer ${none}`)).toBe('token algorithm not allowed');
  });

  it('refuses a wrong issuer or audience, and a token without exp', async () => {
    const wrongIss = await new SignJWT({ sub: 'a' })
      .setProtectedHeader({ alg: 'RS256', kid: rsaA.kid })
      .setIssuer('https://evil.example.com')
      .setAudience(AUDIENCE)
      .setExpirationTime('10m')
      .sign(rsaA.privateKey);
    expect(await refusal(`Bearer ${wrongIss}`)).toBe('token issuer not accepted');
    const noExp = await new SignJWT({ sub: 'a' })
      .setProtectedHeader({ alg: 'RS256', kid: rsaA.kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .sign(rsaA.privateKey);
    expect(await refusal(`Bearer ${noExp}`)).toMatch(/no expiry/);
  });

  it('answers a flood of unknown kids with 401 and refetches the set at most once per 30 s', async () => {
    const flood = async (n: number) => {
      const tokens = await Promise.all(
        Array.from({ length: n }, (_, i) => sign({ ...rsaA, kid: `flood-${clock}-${i}` }, { sub: 'x' })),
      );
      const statuses = await Promise.all(tokens.map(async (t) => (await call(`Bearer ${t}`)).status));
      expect(new Set(statuses)).toEqual(new Set([401]));
    };
    // Well inside 30 s of the fetch at start: no fetch at all.
    clock += 10_000;
    const before = provider.fetches;
    await flood(50);
    expect(provider.fetches).toBe(before);
    // Past 30 s: the first unknown kid refetches once, the rest of the flood shares that fetch or waits.
    clock += 20_000;
    await flood(50);
    expect(provider.fetches).toBe(before + 1);
    await flood(50);
    expect(provider.fetches).toBe(before + 1);
  });

  it('accepts a key the provider rotated in without a restart, and drops the key it rotated out', async () => {
    const oldToken = await sign(rsaA, { sub: 'old-key-user' });
    expect((await call(`Bearer ${oldToken}`)).status).toBe(200);
    provider.keys = [rsaB, ec, ed];
    clock += 30_000;
    const fetches = provider.fetches;
    const res = await call(`Bearer ${await sign(rsaB, { sub: 'new-key-user' })}`);
    expect(res.status).toBe(200);
    expect(upstream.last().headers['x-user-id']).toBe('new-key-user');
    expect(provider.fetches).toBe(fetches + 1);
    // A token verified under the dropped key (cached) and a new one signed by it are both refused now.
    expect(await refusal(`Bearer ${oldToken}`)).toMatch(/not in the identity provider key set/);
    expect(await refusal(`Bearer ${await sign(rsaA, { sub: 'old-key-user-2' })}`)).toMatch(
      /not in the identity provider key set/,
    );
    expect(provider.fetches).toBe(fetches + 1);
  });
});
