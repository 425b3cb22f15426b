// Regression: the gateway forwards non-ASCII identity values percent-encoded (UTF-8); the middleware metered the
// encoded text (`%E7%A7%9F%E6%88%B7`), another subject than the one the gateway metered (`租户`).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { MemoryStore } from '@tollgate/core';
import { trackUsage } from '../../src';

const CONFIG = { defaultPlan: 'free', plans: { free: { limits: { requests: { day: 100 } } } } };

describe('percent-encoded identity headers', () => {
  let server: http.Server;
  let base: string;
  const meter = trackUsage({ store: new MemoryStore(), config: CONFIG });

  beforeAll(async () => {
    const app = express();
    app.use(meter);
    app.use((_req, res) => res.json({ ok: true }));
    server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await meter.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('are metered under the decoded id', async () => {
    const res = await fetch(`${base}/api/hello`, { headers: { 'x-tenant-id': '%E7%A7%9F%E6%88%B7 100%25' } });
    expect(res.status).toBe(200);
    await meter.flushUsage();
    const decoded = await meter.tollgate.engine.status({ tenantId: '租户 100%', plan: 'free' });
    const encoded = await meter.tollgate.engine.status({
      tenantId: '%E7%A7%9F%E6%88%B7 100%25',
      plan: 'free',
    });
    expect([decoded.quotas.requests?.day?.used, encoded.quotas.requests?.day?.used]).toEqual([1, 0]);
  });
});
