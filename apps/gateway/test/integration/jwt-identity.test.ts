import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import { Writable } from 'node:stream';
import jwt from 'jsonwebtoken';
import pino from 'pino';
import { MemoryStore } from '@tollgate/core';
import { verifyIdentitySignature } from '@tollgate/http';
import { createTestDatabase } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { startGateway, type RunningGateway } from '../support/kit';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const ISSUER = 'https://id.example.com';
const AUDIENCE = 'tollgate-api';
const SIGNING = 'identity-signing-secret-0123456789';

function rs(
  claims: Record<string, unknown>,
  options: jwt.SignOptions = {},
  key: jwt.Secret = rsa.privateKey,
): string {
  const base: jwt.SignOptions = { algorithm: 'RS256', issuer: ISSUER, audience: AUDIENCE };
  // An explicit exp claim replaces the default lifetime.
  if (!('exp' in claims)) base.expiresIn = '10m';
  return jwt.sign(claims, key, { ...base, ...options });
}

/** Sends raw request bytes, so header case and duplicates are exactly what a hostile client sends. */
function rawRequest(url: string, lines: string[]): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(`${lines.join('\r\n')}\r\n\r\n`));
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

describe('JWT verification and identity forwarding', () => {
  let upstream: LlmUpstream;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };
  const logs: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_jwt');
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n'))
          if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    gw = await startGateway(
      {
        JWT_SECRET: '',
        JWT_PUBLIC_KEY: publicPem,
        JWT_ISSUER: ISSUER,
        JWT_AUDIENCE: AUDIENCE,
        GATEWAY_SIGNING_SECRET: SIGNING,
        UPSTREAM_URL: upstream.url,
        DATABASE_URL: db.url,
        FLUSHER: 'off',
      },
      { store: new MemoryStore(), logger: pino({ level: 'warn' }, sink) },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  const now = Math.floor(Date.now() / 1000);
  const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'a', iss: ISSUER, aud: AUDIENCE })).toString('base64url')}.`;
  const cases: Array<[string, string | null]> = [
    ['no Authorization header', null],
    ['a non-Bearer scheme', 'Basic YWxpY2U6c2VjcmV0'],
    ['alg none', `Bearer ${none}`],
    ['an expired token', `Bearer ${rs({ sub: 'a', exp: now - 120 })}`],
    ['a token not yet valid', `Bearer ${rs({ sub: 'a' }, { notBefore: 120 })}`],
    ['a token signed with another key', `Bearer ${rs({ sub: 'a' }, {}, otherRsa.privateKey)}`],
    [
      'RS256/HS256 confusion (the public key used as an HMAC secret)',
      `Bearer ${jwt.sign({ sub: 'a', iss: ISSUER, aud: AUDIENCE }, publicPem, { algorithm: 'HS256' })}`,
    ],
    ['the wrong issuer', `Bearer ${rs({ sub: 'a' }, { issuer: 'https://evil.example.com' })}`],
    ['the wrong audience', `Bearer ${rs({ sub: 'a' }, { audience: 'someone-else' })}`],
    ['a malformed token', 'Bearer not.a.jwt'],
    ['garbage', 'Bearer %%%'],
    ['an oversized token', `Bearer ${rs({ sub: 'a', pad: 'x'.repeat(10_000) })}`],
    ['a token naming no user and no tenant', `Bearer ${rs({ email: 'x@example.com' })}`],
  ];

  it.each(cases)('answers 401 problem+json to %s, and forwards nothing', async (_name, authorization) => {
    const before = upstream.received.length;
    const res = await fetch(`${gw.url}/api/hello`, { headers: authorization ? { authorization } : {} });
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="tollgate"/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      type: 'https://tollgate.dev/problems/unauthorized',
      title: 'Unauthorized',
      status: 401,
    });
    expect(typeof body.detail).toBe('string');
    expect(upstream.received.length).toBe(before);
  });

  it('forwards exactly the token identity, never the client-sent identity headers in any case or repeat', async () => {
    const t = rs({ sub: 'alice', tenant_id: 'acme', tier: 'free', role: 'member' });
    const { port } = new URL(gw.url);
    const reply = await rawRequest(gw.url, [
      'GET /api/whoami HTTP/1.1',
      `Host: 127.0.0.1:${port}`,
      `Authorization: Bearer ${t}`,
      'X-User-Id: mallory',
      'x-user-id: root',
      'X-USER-ID: admin',
      'X-Tenant-Id: other-corp',
      'X-User-Role: admin',
      'x-user-email: boss@example.com',
      'X-Tollgate-Signature: t=1,v1=' + '0'.repeat(64),
      'Connection: close, X-Drop-Me',
      'X-Drop-Me: hop-by-hop',
    ]);
    expect(reply.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    const seen = upstream.last();
    expect(seen.url).toBe('/api/whoami');
    const identity = seen.rawHeaders
      .filter((_, i) => i % 2 === 0)
      .map((h) => h.toLowerCase())
      .filter((h) => h.startsWith('x-user') || h.startsWith('x-tenant'));
    expect(identity.sort()).toEqual(['x-tenant-id', 'x-user-id', 'x-user-role', 'x-user-tier']);
    expect(seen.headers).toMatchObject({
      'x-user-id': 'alice',
      'x-tenant-id': 'acme',
      'x-user-tier': 'free',
      'x-user-role': 'member',
    });
    // The email claim is missing: its header is omitted, not sent empty.
    expect(seen.headers['x-user-email']).toBeUndefined();
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-drop-me']).toBeUndefined();
    const check = verifyIdentitySignature(
      SIGNING,
      seen.headers['x-tollgate-signature'] as string,
      { userId: 'alice', tenantId: 'acme', tier: 'free', email: null, role: 'member' },
      { method: 'GET', path: '/api/whoami' },
    );
    expect(check).toEqual({ ok: true });
  });

  it('drops hop-by-hop and Connection-listed headers from the upstream response', async () => {
    const res = await fetch(`${gw.url}/api/hop`, {
      headers: { authorization: `Bearer ${rs({ sub: 'bob' })}` },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hop');
    expect(res.headers.get('x-kept')).toBe('yes');
    expect(res.headers.get('x-secret-hop')).toBeNull();
  });

  it('meters an unknown tier on the default plan and warns once per tier', async () => {
    const t = rs({ sub: 'carol', tier: 'platinum' });
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${gw.url}/api/hello`, { headers: { authorization: `Bearer ${t}` } });
      expect(res.status).toBe(200);
    }
    await gw.gateway.idle();
    const status = await gw.gateway.engine.status({ userId: 'carol', plan: 'platinum' });
    expect(status.plan).toBe('free');
    expect(status.quotas.requests?.day?.used).toBe(3);
    expect(logs.filter((l) => JSON.stringify(l).includes('platinum'))).toHaveLength(1);
  });
});
