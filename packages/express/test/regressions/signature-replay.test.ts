// Regression: the identity signature covered only the identity and a timestamp and was accepted for 300 s, so a
// captured header set could be replayed on any other method or path for five minutes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { MemoryStore } from '@tollgate/core';
import { signIdentity } from '@tollgate/http';
import { trackUsage } from '../../src';

const SECRET = 'regression-signing-secret-0123456789';
const CONFIG = { defaultPlan: 'free', plans: { free: { limits: { requests: { day: 100 } } } } };

describe('a captured signed identity header set', () => {
  let server: http.Server;
  let base: string;
  const handled: string[] = [];

  beforeAll(async () => {
    const app = express();
    app.use(trackUsage({ store: new MemoryStore(), config: CONFIG, signingSecret: SECRET }));
    app.use((req, res) => {
      handled.push(`${req.method} ${req.originalUrl}`);
      res.json({ ok: true });
    });
    server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const headersFor = (method: string, path: string, age = 0) => ({
    'x-user-id': 'alice',
    'x-tenant-id': 'acme',
    'x-tollgate-signature': signIdentity(
      SECRET,
      { userId: 'alice', tenantId: 'acme' },
      { method, path },
      Math.floor(Date.now() / 1000) - age,
    ),
  });

  it('is refused on another method or path, and once older than 60 s', async () => {
    const captured = headersFor('GET', '/api/reports');
    const status = async (method: string, path: string, headers: Record<string, string>) =>
      (await fetch(`${base}${path}`, { method, headers })).status;
    expect([
      await status('DELETE', '/api/reports', captured),
      await status('GET', '/api/admin/users', captured),
      await status('GET', '/api/reports', headersFor('GET', '/api/reports', 61)),
    ]).toEqual([401, 401, 401]);
    expect(handled).toEqual([]);
    expect(await status('GET', '/api/reports', captured)).toBe(200);
    expect(handled).toEqual(['GET /api/reports']);
  });
});
