// apiKeyIdentity(): an Express or Fastify app meters by Tollgate API keys without the gateway, per-key limits
// included; a bad, expired or revoked key has no identity (401 under requireIdentity); a revocation is seen at once.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { MemoryStore } from '@tollgate/core';
import { trackUsage } from '@tollgate/express';
import { tollgate } from '@tollgate/fastify';
import {
  apiKeyIdentity,
  createApiKey,
  migrate,
  openSqlClient,
  revokeApiKey,
  type ApiKeyFailure,
  type SqlClient,
} from '../../src';
import { createTestDatabase } from '../../../../test-support/services';

const CONFIG = {
  defaultPlan: 'free',
  plans: { free: { limits: { requests: { day: 100 } } }, pro: { limits: { requests: { day: 1000 } } } },
  keyLimits: { pro: { requests: { day: 3 } } },
};

describe('apiKeyIdentity() with trackUsage', () => {
  let db: { url: string; drop: () => Promise<void> };
  let sql: SqlClient;

  beforeAll(async () => {
    db = await createTestDatabase('ledger_key_identity');
    sql = await openSqlClient({ databaseUrl: db.url });
    await migrate(sql);
  });

  afterAll(async () => {
    await sql?.close();
    await db?.drop();
  });

  const newKey = (tier = 'pro') =>
    createApiKey(sql, { name: 'app', tenantId: 'acme', userId: 'alice', tier, role: null, expiresAt: null });

  it('identifies Express requests by their key (Bearer or X-API-Key), with per-key limits', async () => {
    const refused: ApiKeyFailure[] = [];
    const identify = apiKeyIdentity({ sql, onRefused: (r) => refused.push(r) });
    const meter = trackUsage({ store: new MemoryStore(), config: CONFIG, identify, requireIdentity: true });
    const app = express();
    app.use(meter);
    app.get('/api/hello', (_req, res) => {
      res.json({ ok: true });
    });
    const server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const { key, record } = await newKey();
      const call = (headers: Record<string, string>) =>
        fetch(`${base}/api/hello`, { headers }).then(async (r) => {
          await r.text();
          return r.status;
        });
      expect(await call({ authorization: `Bearer ${key}` })).toBe(200);
      expect(await call({ 'x-api-key': key })).toBe(200);
      expect(await call({ 'x-api-key': key })).toBe(200);
      // keyLimits.pro: 3 a day for this key.
      expect(await call({ 'x-api-key': key })).toBe(429);
      await meter.flushUsage();
      const status = await meter.tollgate.engine.status({
        tenantId: 'acme',
        userId: 'alice',
        plan: 'pro',
        apiKeyId: record.id,
      });
      expect(status.keyQuotas?.requests?.day).toMatchObject({ used: 3, limit: 3 });
      expect(status.quotas.requests?.day?.used).toBe(3);
      // A known key was looked up once, however many requests used it.
      expect(identify.resolver.lookupCount).toBe(1);

      expect(await call({ 'x-api-key': 'tg_nope' })).toBe(401);
      expect(await call({ 'x-api-key': `tg_${'q'.repeat(32)}` })).toBe(401);
      expect(await call({})).toBe(401);
      const other = await newKey();
      expect(await call({ 'x-api-key': other.key })).toBe(200);
      await revokeApiKey(sql, other.record.id);
      // Seen within the poll interval (250 ms): wait for the next refusal, bounded.
      const deadline = Date.now() + 2000;
      let status401 = 0;
      while (Date.now() < deadline && (status401 = await call({ 'x-api-key': other.key })) !== 401)
        await new Promise((r) => setTimeout(r, 50));
      expect(status401).toBe(401);
      expect(refused).toEqual(expect.arrayContaining(['malformed', 'unknown', 'revoked']));
    } finally {
      await meter.close();
      await identify.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('identifies Fastify requests the same way', async () => {
    const identify = apiKeyIdentity({ sql });
    const app = Fastify();
    await app.register(tollgate, {
      store: new MemoryStore(),
      config: CONFIG,
      identify,
      requireIdentity: true,
    });
    app.get('/api/hello', async () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = app.server.address() as AddressInfo;
      const { key } = await newKey('free');
      const call = (headers: Record<string, string>) =>
        fetch(`http://127.0.0.1:${port}/api/hello`, { headers }).then(async (r) => {
          await r.text();
          return r.status;
        });
      expect(await call({ authorization: `Bearer ${key}` })).toBe(200);
      expect(await call({ authorization: 'Bearer tg_bad' })).toBe(401);
    } finally {
      await app.close();
      await identify.close();
    }
  });
});
