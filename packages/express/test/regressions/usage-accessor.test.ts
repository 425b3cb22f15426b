// `req.usage` is an accessor on Express's request prototype (no own property per request, see track-usage.ts).
// It must behave as the own property did: set by trackUsage, assignable by users, still there after a request
// leaves a mounted sub-app (Express swaps the request's prototype back as it leaves), on Express 4 and 5.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express5 from 'express';
import express4 from 'express4';
import { MemoryStore, type RequestUsage } from '@tollgate/core';
import { trackUsage } from '../../src';

const config = {
  subject: 'tenant' as const,
  timezone: 'UTC',
  defaultPlan: 'free',
  plans: { free: { limits: { requests: { day: 100 } } } },
};
const who = { 'x-tenant-id': 't1', 'x-user-id': 'u1' };

describe.each([
  ['Express 4', express4 as unknown as typeof express5],
  ['Express 5', express5],
])('%s: req.usage', (_name, expressModule) => {
  let server: Server;
  let url: string;
  const seen: Array<{ where: string; metered: boolean | undefined; tenantId: string | null | undefined }> =
    [];
  const mw = trackUsage({ store: new MemoryStore(), config });

  beforeAll(async () => {
    const app = expressModule();
    const sub = expressModule();
    sub.use(mw);
    sub.get('/pass', (req, _res, next) => {
      seen.push({ where: 'sub', metered: req.usage?.metered, tenantId: req.usage?.tenantId });
      next();
    });
    app.use('/api', sub);
    app.get('/api/pass', (req, res) => {
      seen.push({ where: 'parent', metered: req.usage?.metered, tenantId: req.usage?.tenantId });
      res.json({ ok: true });
    });
    app.get('/own', (req, res) => {
      const mine = { metered: false } as RequestUsage;
      req.usage = mine;
      res.json({ same: req.usage === mine, other: Object.keys(req).includes('usage') });
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await mw.close();
    await new Promise((r) => server.close(r));
  });

  it('is set by trackUsage in a sub-app and still there in the parent app after the sub-app', async () => {
    seen.length = 0;
    const res = await fetch(`${url}/api/pass`, { headers: who });
    expect(res.status).toBe(200);
    expect(seen).toEqual([
      { where: 'sub', metered: true, tenantId: 't1' },
      { where: 'parent', metered: true, tenantId: 't1' },
    ]);
  });

  it('is undefined on requests trackUsage never saw, and keeps what user code assigns', async () => {
    const res = await fetch(`${url}/own`);
    expect(await res.json()).toEqual({ same: true, other: false });
  });
});
