// Tollgate API keys end to end (SPEC §11): create, use (identity upstream, X-Api-Key-Id), list, rotate with a grace
// period, revoke (refused on a second gateway process within 1 s), and no secret in any answer or log line.
import { Writable } from 'node:stream';
import pino from 'pino';
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { buildGateway, startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { LlmUpstream } from '../support/llm-upstream';
import { configFile, SECRET, startGateway, token, type RunningGateway } from '../support/kit';

const CONFIG = {
  defaultPlan: 'free',
  plans: { free: { limits: { requests: { day: 10_000 } } }, pro: { limits: { requests: { day: 100_000 } } } },
};

interface Created {
  id: string;
  key: string;
  prefix: string;
  name: string;
  tenantId: string | null;
  userId: string | null;
  tier: string | null;
  createdAt: string;
  expiresAt: string | null;
}

async function until<T>(what: string, check: () => Promise<T | null>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('API keys through the gateway', () => {
  let upstream: LlmUpstream;
  let db: { url: string; drop: () => Promise<void> };
  let a: RunningGateway;
  let b: GatewayProcess;
  const logs: string[] = [];
  const secrets: string[] = [];
  const alice = token({ sub: 'alice', tenant_id: 'acme', tier: 'free', role: 'member' });
  const bob = token({ sub: 'bob', tenant_id: 'acme', tier: 'free' });
  const admin = token({ sub: 'root', role: 'admin' });

  beforeAll(async () => {
    buildGateway();
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_keys');
    const env = {
      UPSTREAM_URL: upstream.url,
      REDIS_URL,
      REDIS_PREFIX: uniquePrefix('gw-keys'),
      DATABASE_URL: db.url,
      FLUSHER: 'off',
      JWT_SECRET: SECRET,
      TOLLGATE_CONFIG: configFile(CONFIG),
    };
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(chunk.toString());
        done();
      },
    });
    a = await startGateway(env, { logger: pino({ level: 'debug' }, sink) });
    b = await startGatewayProcess(env);
  }, 240_000);

  afterAll(async () => {
    await a?.close();
    await b?.stop();
    await upstream?.stop();
    await db?.drop();
    // Nothing a gateway wrote (its logs) ever carries a secret.
    const written = logs.join('') + (b?.output() ?? '');
    for (const s of secrets) expect(written).not.toContain(s);
  });

  const call = (url: string, headers: Record<string, string>) => fetch(`${url}/api/hello`, { headers });
  const bearer = (k: string) => ({ authorization: `Bearer ${k}` });
  async function create(jwt: string, body: Record<string, unknown>, path = '/usage/keys'): Promise<Created> {
    const res = await fetch(`${a.url}${path}`, {
      method: 'POST',
      headers: { ...bearer(jwt), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const created = (await res.json()) as Created;
    secrets.push(created.key);
    return created;
  }
  async function refusal(url: string, headers: Record<string, string>): Promise<string> {
    const before = upstream.received.length;
    const res = await call(url, headers);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const body = (await res.json()) as { detail: string; status: number };
    expect(body.status).toBe(401);
    expect(JSON.stringify(body)).not.toMatch(/\bat .*\.(ts|js):\d+/);
    expect(upstream.received.length).toBe(before);
    return body.detail;
  }

  it('creates a key for the caller and forwards its identity with X-Api-Key-Id, from either header', async () => {
    const k = await create(alice, { name: 'ci' });
    expect(k.key).toMatch(/^tg_[0-9A-Za-z]{32}$/);
    expect(k).toMatchObject({
      prefix: k.key.slice(3, 11),
      name: 'ci',
      tenantId: 'acme',
      userId: 'alice',
      tier: 'free',
    });
    expect(k.id).toMatch(/^key_/);

    for (const [url, headers] of [
      [a.url, bearer(k.key)],
      [b.url, { 'x-api-key': k.key }],
    ] as const) {
      const res = await call(url, headers);
      expect(res.status).toBe(200);
      const seen = upstream.last().headers;
      expect(seen).toMatchObject({
        'x-user-id': 'alice',
        'x-tenant-id': 'acme',
        'x-user-tier': 'free',
        'x-user-role': 'member',
        'x-api-key-id': k.id,
      });
      expect(seen.authorization).toBeUndefined();
      expect(seen['x-api-key']).toBeUndefined();
    }
    // A client cannot name its own key id upstream.
    expect((await call(a.url, { authorization: `Bearer ${alice}`, 'x-api-key-id': k.id })).status).toBe(200);
    expect(upstream.last().headers['x-api-key-id']).toBeUndefined();
  });

  it('answers a known key from memory: no database look-up once seen', async () => {
    const k = await create(alice, { name: 'hot' });
    expect((await call(a.url, bearer(k.key))).status).toBe(200);
    const lookups = a.gateway.apiKeys!.lookupCount;
    for (let i = 0; i < 20; i++) expect((await call(a.url, bearer(k.key))).status).toBe(200);
    expect(a.gateway.apiKeys!.lookupCount).toBe(lookups);
  });

  it('names malformed and unknown keys, and looks an unknown key up once', async () => {
    expect(await refusal(a.url, bearer('tg_short'))).toMatch(/^malformed API key/);
    expect(await refusal(a.url, { 'x-api-key': 'not-a-key' })).toMatch(/^malformed API key/);
    const unknown = `tg_${'x'.repeat(32)}`;
    const lookups = a.gateway.apiKeys!.lookupCount;
    for (let i = 0; i < 10; i++) expect(await refusal(a.url, bearer(unknown))).toBe('unknown API key');
    expect(a.gateway.apiKeys!.lookupCount).toBe(lookups + 1);
  });

  it("lists the caller's keys with their last use and never a secret", async () => {
    const k = await create(alice, { name: 'listed' });
    expect((await call(a.url, bearer(k.key))).status).toBe(200);
    const row = await until('last_used_at', async () => {
      const res = await fetch(`${a.url}/usage/keys`, { headers: bearer(alice) });
      expect(res.status).toBe(200);
      const text = await res.text();
      for (const s of secrets) expect(text).not.toContain(s);
      const rows = JSON.parse(text) as Array<Record<string, unknown>>;
      expect(rows.every((r) => r.userId === 'alice' && r.tenantId === 'acme')).toBe(true);
      const found = rows.find((r) => r.id === k.id)!;
      return found.lastUsedAt === null ? null : found;
    });
    expect(Object.keys(row).sort()).toEqual(
      [
        'createdAt',
        'expiresAt',
        'id',
        'lastUsedAt',
        'name',
        'prefix',
        'revokedAt',
        'tenantId',
        'tier',
        'userId',
      ].sort(),
    );
    const all = await fetch(`${a.url}/admin/keys?tenantId=acme&userId=alice`, { headers: bearer(admin) });
    expect(((await all.json()) as unknown[]).length).toBeGreaterThanOrEqual(3);
  });

  it('lets a user create and revoke only its own keys, in its own tenant, with its own tier (403)', async () => {
    const k = await create(alice, { name: 'mine' });
    const post = (body: Record<string, unknown>, jwt = alice) =>
      fetch(`${a.url}/usage/keys`, {
        method: 'POST',
        headers: { ...bearer(jwt), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post({ name: 'x', tenantId: 'globex' })).status).toBe(403);
    expect((await post({ name: 'x', userId: 'bob' })).status).toBe(403);
    expect((await post({ name: 'x', tier: 'pro' })).status).toBe(403);
    expect((await post({ name: 'x', role: 'admin' })).status).toBe(400);
    expect(
      (await fetch(`${a.url}/usage/keys/${k.id}`, { method: 'DELETE', headers: bearer(bob) })).status,
    ).toBe(403);
    expect(
      (await fetch(`${a.url}/admin/keys/${k.id}`, { method: 'DELETE', headers: bearer(alice) })).status,
    ).toBe(403);
    expect((await fetch(`${a.url}/admin/keys`, { headers: bearer(alice) })).status).toBe(403);
    const bobs = (await (await fetch(`${a.url}/usage/keys`, { headers: bearer(bob) })).json()) as unknown[];
    expect(bobs).toEqual([]);
    // A key authenticates the usage API too, as its user.
    const viaKey = (await (
      await fetch(`${a.url}/usage/keys`, { headers: { 'x-api-key': k.key } })
    ).json()) as Array<{ id: string }>;
    expect(viaKey.map((r) => r.id)).toContain(k.id);
  });

  it('refuses a key once it expired', async () => {
    const k = await create(
      admin,
      {
        name: 'short',
        tenantId: 'acme',
        userId: 'carol',
        tier: 'pro',
        expiresAt: new Date(Date.now() + 1500).toISOString(),
      },
      '/admin/keys',
    );
    expect((await call(a.url, bearer(k.key))).status).toBe(200);
    expect(upstream.last().headers).toMatchObject({ 'x-user-id': 'carol', 'x-user-tier': 'pro' });
    await until('expiry', async () => ((await call(a.url, bearer(k.key))).status === 401 ? true : null));
    expect(await refusal(a.url, bearer(k.key))).toBe('API key expired');
  });

  it('rotates: the new key works at once, the old one through the grace period on both gateways, then 401', async () => {
    const old = await create(alice, { name: 'rotating' });
    expect((await call(a.url, bearer(old.key))).status).toBe(200);
    expect((await call(b.url, bearer(old.key))).status).toBe(200);
    const res = await fetch(`${a.url}/admin/keys/${old.id}/rotate`, {
      method: 'POST',
      headers: { ...bearer(admin), 'content-type': 'application/json' },
      body: JSON.stringify({ graceSeconds: 2 }),
    });
    expect(res.status).toBe(201);
    const next = (await res.json()) as Created & { rotatedFrom: string };
    secrets.push(next.key);
    expect(next).toMatchObject({
      name: 'rotating',
      tenantId: 'acme',
      userId: 'alice',
      tier: 'free',
      rotatedFrom: old.id,
    });
    expect(next.key).not.toBe(old.key);
    for (const url of [a.url, b.url]) {
      expect((await call(url, bearer(next.key))).status).toBe(200);
      expect(upstream.last().headers['x-api-key-id']).toBe(next.id);
      expect((await call(url, bearer(old.key))).status).toBe(200);
    }
    for (const url of [a.url, b.url])
      await until('grace end', async () => ((await call(url, bearer(old.key))).status === 401 ? true : null));
    expect(await refusal(b.url, bearer(old.key))).toBe('API key expired');
    expect((await call(b.url, bearer(next.key))).status).toBe(200);
  });

  it('revokes: 401 at once on the gateway that revoked, and on a second gateway process within 1 s', async () => {
    const k = await create(alice, { name: 'doomed' });
    expect((await call(a.url, bearer(k.key))).status).toBe(200);
    expect((await call(b.url, { 'x-api-key': k.key })).status).toBe(200);
    const revoked = await fetch(`${a.url}/usage/keys/${k.id}`, { method: 'DELETE', headers: bearer(alice) });
    expect(revoked.status).toBe(204);
    const at = Date.now();
    expect(await refusal(a.url, bearer(k.key))).toBe('API key revoked');
    await until(
      'revocation on the second process',
      async () => ((await call(b.url, { 'x-api-key': k.key })).status === 401 ? true : null),
      1000,
    );
    expect(Date.now() - at).toBeLessThanOrEqual(1000);
    expect(await refusal(b.url, { 'x-api-key': k.key })).toBe('API key revoked');
    const listed = (await (await fetch(`${a.url}/usage/keys`, { headers: bearer(alice) })).json()) as Array<{
      id: string;
      revokedAt: string | null;
    }>;
    expect(listed.find((r) => r.id === k.id)!.revokedAt).not.toBeNull();
  });
});
