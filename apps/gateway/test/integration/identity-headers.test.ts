import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import jwt from 'jsonwebtoken';
import { MemoryStore, type TollgateConfigInput } from '@tollgate/core';
import { trackUsage } from '@tollgate/express';
import { createTestDatabase } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { foldedNames, rawRequest } from '../support/raw-lines';
import { SECRET, dayCounters, startGateway, token, type RunningGateway } from '../support/kit';

const SIGNING = 'identity-headers-signing-0123456789';
const CONFIG: TollgateConfigInput = {
  defaultPlan: 'free',
  plans: { free: { limits: { requests: { day: 1000 } } } },
};

/** An Express app under `/base` with trackUsage() checking the gateway's signature, recording what it saw. */
async function startMiddlewareUpstream() {
  const store = new MemoryStore();
  const seen: Array<{ method: string; originalUrl: string; headers: IncomingHttpHeaders }> = [];
  const router = express.Router();
  const meter = trackUsage({
    store,
    config: CONFIG,
    signingSecret: SIGNING,
    paths: ['/base'],
    requireIdentity: true,
  });
  router.use(meter);
  router.use((req, res) => {
    seen.push({ method: req.method, originalUrl: req.originalUrl, headers: { ...req.headers } });
    res.json({ ok: true });
  });
  const app = express();
  app.use('/base', router);
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    meter,
    close: async () => {
      await meter.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('identity and forwarding headers the upstream receives', () => {
  let upstream: LlmUpstream;
  let mw: Awaited<ReturnType<typeof startMiddlewareUpstream>>;
  let db: { url: string; drop: () => Promise<void> };
  let gw: RunningGateway;
  let trusting: RunningGateway;
  let signing: RunningGateway;

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    mw = await startMiddlewareUpstream();
    db = await createTestDatabase('gw_identity_headers');
    const base = { DATABASE_URL: db.url, FLUSHER: 'off' };
    gw = await startGateway(
      { ...base, UPSTREAM_URL: upstream.url, GATEWAY_SIGNING_SECRET: SIGNING },
      { store: new MemoryStore(), config: CONFIG },
    );
    trusting = await startGateway(
      { ...base, UPSTREAM_URL: upstream.url, TRUST_PROXY: '10.0.0.0/8, 127.0.0.1, ::1' },
      { store: new MemoryStore(), config: CONFIG },
    );
    signing = await startGateway(
      { ...base, UPSTREAM_URL: `${mw.url}/base`, STRIP_PREFIX: '/api', GATEWAY_SIGNING_SECRET: SIGNING },
      { store: new MemoryStore(), config: CONFIG },
    );
  });

  afterAll(async () => {
    await Promise.all([gw?.close(), trusting?.close(), signing?.close()]);
    await mw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  it('never forwards a client identity header in a spelling with "_", in any case', async () => {
    const { port } = new URL(gw.url);
    const reply = await rawRequest(gw.url, [
      'GET /api/whoami HTTP/1.1',
      `Host: 127.0.0.1:${port}`,
      `Authorization: Bearer ${token({ sub: 'alice', tenant_id: 'acme' })}`,
      'X_User_Id: mallory',
      'X-Tenant_Id: other-corp',
      'x_user_tier: enterprise',
      'X_USER_EMAIL: boss@example.com',
      'X-User_Role: admin',
      'X_Api_Key_Id: k-stolen',
      'X-Api-Key-Id: k-stolen',
      'X_Tollgate_Signature: t=1,v2=00',
      'X_Request_Id: forged',
    ]);
    expect(reply.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    const seen = upstream.last();
    const owned = foldedNames(seen.rawHeaders).filter(
      (n) => /^x-(user|tenant|api-key)-/.test(n) || n === 'x-tollgate-signature' || n === 'x-request-id',
    );
    expect(owned.sort()).toEqual(['x-request-id', 'x-tenant-id', 'x-tollgate-signature', 'x-user-id']);
    expect(seen.headers).toMatchObject({ 'x-user-id': 'alice', 'x-tenant-id': 'acme' });
    expect(seen.headers['x-request-id']).not.toBe('forged');
  });

  const forwarding = (host: string) => [
    'GET /api/whoami HTTP/1.1',
    `Host: ${host}`,
    `Authorization: Bearer ${token({ sub: 'alice' })}`,
    'Forwarded: for=6.6.6.6;proto=https;host=evil.example',
    'X-Forwarded-For: 6.6.6.6',
    'X-Forwarded-Host: proxy.example',
    'X-Forwarded-Proto: https',
    'X-Forwarded-Port: 443',
    'X-Real-IP: 6.6.6.6',
    'X_Forwarded_For: 7.7.7.7',
    'X-Forwarded_Host: evil.example',
    'X_Real_IP: 7.7.7.7',
  ];

  it("drops an untrusted client's Forwarded, X-Forwarded-* and X-Real-IP and describes the connection itself", async () => {
    const { host } = new URL(gw.url);
    expect((await rawRequest(gw.url, forwarding(host))).split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    const seen = upstream.last();
    const names = foldedNames(seen.rawHeaders);
    expect(
      names.filter((n) => n.startsWith('x-forwarded-') || n === 'forwarded' || n === 'x-real-ip').sort(),
    ).toEqual(['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);
    expect(seen.headers).toMatchObject({
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-host': host,
      'x-forwarded-proto': 'http',
    });
  });

  it("keeps a trusted proxy's forwarding headers and appends the proxy to X-Forwarded-For", async () => {
    const { host } = new URL(trusting.url);
    expect((await rawRequest(trusting.url, forwarding(host))).split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    const seen = upstream.last();
    expect(seen.headers).toMatchObject({
      forwarded: 'for=6.6.6.6;proto=https;host=evil.example',
      'x-forwarded-for': '6.6.6.6, 127.0.0.1',
      'x-forwarded-host': 'proxy.example',
      'x-forwarded-proto': 'https',
      'x-forwarded-port': '443',
      'x-real-ip': '6.6.6.6',
    });
    // A proxy sets the real names; look-alikes are its client's and never pass.
    expect(
      foldedNames(seen.rawHeaders).filter((n) => n === 'x-forwarded-for' || n === 'x-real-ip'),
    ).toHaveLength(2);
    expect(seen.rawHeaders.some((n) => n.includes('_'))).toBe(false);
  });

  it('forwards non-ASCII claims percent-encoded, and meters the raw claim', async () => {
    const t = token({ sub: 'ユーザー', tenant_id: '租户 100%', email: 'user@例え.jp', tier: 'free' });
    const res = await fetch(`${gw.url}/api/whoami`, { headers: { authorization: `Bearer ${t}` } });
    expect(res.status).toBe(200);
    expect(upstream.last().headers).toMatchObject({
      'x-user-id': '%E3%83%A6%E3%83%BC%E3%82%B6%E3%83%BC',
      'x-tenant-id': '%E7%A7%9F%E6%88%B7 100%25',
      'x-user-email': 'user@%E4%BE%8B%E3%81%88.jp',
    });
    await gw.gateway.idle();
    expect((await dayCounters(gw.gateway, { tenantId: '租户 100%' })).requests).toBe(1);
  });

  const refused = async (t: string, detail: string) => {
    const before = upstream.received.length;
    const res = await fetch(`${gw.url}/api/whoami`, { headers: { authorization: `Bearer ${t}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ status: 401, detail });
    expect(upstream.received.length).toBe(before);
  };

  it.each([
    ['surrounding whitespace', { sub: 'u ' }, 'claim "sub" must not start or end with whitespace'],
    [
      'a C1 control',
      { sub: 'u', tenant_id: 'a\u0085b' },
      'claim "tenant_id" must not contain control characters',
    ],
  ])(
    'answers 401 problem+json naming the claim to a claim with %s, and forwards nothing',
    async (_n, claims, detail) => {
      await refused(token(claims), detail);
    },
  );

  it('answers 401 problem+json to a token without exp, and forwards nothing', async () => {
    const forever = jwt.sign({ sub: 'u' }, SECRET, { algorithm: 'HS256' });
    await refused(forever, 'token has no expiry ("exp"), and this gateway requires one');
  });

  it('answers 401 to a token whose header lists critical extensions', async () => {
    const t = jwt.sign({ sub: 'u' }, SECRET, {
      algorithm: 'HS256',
      expiresIn: '1h',
      header: { alg: 'HS256', crit: ['b64'] } as jwt.JwtHeader,
    });
    await refused(t, 'token header lists critical extensions ("crit") the gateway does not support');
  });

  it('signs for the path the upstream receives, and the middleware meters the id the gateway metered', async () => {
    const t = token({ sub: 'ユーザー', tenant_id: '租户', tier: 'free' });
    const res = await fetch(`${signing.url}/api/v1/items?q=%E7%A7%9F&n=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(200);
    const seen = mw.seen[mw.seen.length - 1]!;
    expect(seen.method).toBe('POST');
    expect(seen.originalUrl).toBe('/base/v1/items?q=%E7%A7%9F&n=1');
    await signing.gateway.idle();
    await mw.meter.flushUsage();
    expect((await dayCounters(signing.gateway, { tenantId: '租户' })).requests).toBe(1);
    const status = await mw.meter.tollgate.engine.status({ tenantId: '租户', plan: 'free' });
    expect(status.quotas.requests?.day?.used).toBe(1);
  });

  it('lets no captured header set be replayed on another method or path', async () => {
    const t = token({ sub: 'replayed', tenant_id: 'replay-corp' });
    const res = await fetch(`${signing.url}/api/v1/items`, { headers: { authorization: `Bearer ${t}` } });
    expect(res.status).toBe(200);
    const captured = mw.seen[mw.seen.length - 1]!.headers;
    const replay = Object.fromEntries(
      Object.entries(captured).filter(
        (e): e is [string, string] => typeof e[1] === 'string' && (e[0].startsWith('x-') || e[0] === 'host'),
      ),
    );
    const handled = mw.seen.length;
    const send = (method: string, path: string) => fetch(`${mw.url}${path}`, { method, headers: replay });
    const refused = [
      await send('DELETE', '/base/v1/items'),
      await send('GET', '/base/v1/admin'),
      await send('GET', '/base/v1/items?all=1'),
    ];
    expect(refused.map((r) => r.status)).toEqual([401, 401, 401]);
    expect(await refused[1]!.json()).toMatchObject({ detail: expect.stringContaining('bad signature') });
    expect(mw.seen.length).toBe(handled);
    // The same request within the window verifies: the signature is bound to method and path, not single-use.
    expect((await send('GET', '/base/v1/items')).status).toBe(200);
  });
});
