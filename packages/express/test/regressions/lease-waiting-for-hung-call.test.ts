// Regression: a closed lease waited for every call with an estimate it had admitted before it was settled, however
// long: one call that hung kept it waiting past its reservation's expiry in the store, which then dropped the
// `requests` units of every request the lease had admitted (finished long before). The live counter fell below
// the requests served (6,559 -> 6,270 of 6,536). A waiting lease is now settled after half its hold at the latest.
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import express from 'express';
import Redis from 'ioredis';
import { parseConfig } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';
import { trackUsage } from '@tollgate/express';
import { REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { keepAliveClient } from '../../../../test-support/keep-alive-client';

describe('a lease waiting for a call that hangs', () => {
  const client = new Redis(REDIS_URL);
  let server: http.Server;
  let base = '';
  const hung: express.Response[] = [];
  // The shortest hold: a lease holding estimates is kept 10 s in the store, and settled 5 s after it closes.
  const meter = trackUsage({
    store: new RedisStore({ client, prefix: uniquePrefix('express-lease-hung') }),
    config: parseConfig({
      defaultPlan: 'free',
      plans: { free: { limits: { requests: { day: 1e9 }, tokens: { day: 1e12 } } } },
    }),
    durability: 'batched',
    reservationTtlMs: 1000,
    identify: () => ({ tenantId: 't-hung' }),
    reserve: (req) => (req.path === '/api/plain' ? undefined : { tokens: 1000 }),
  });
  let handled = 0;
  let calls = 0;

  beforeAll(async () => {
    const app = express();
    app.use(meter);
    app.get('/api/plain', (_req, res) => {
      handled += 1;
      res.json({ ok: true });
    });
    app.get('/api/chat', (req, res) => {
      handled += 1;
      calls += 1;
      // A few calls, once leases are in use, never answer (until the test ends them).
      if (calls > 100 && hung.length < 3 && calls % 40 === 0) {
        hung.push(res);
        return;
      }
      setTimeout(() => {
        req.usage.record('tokens', 1000);
        res.json({ ok: true });
      }, 300);
    });
    await new Promise<void>((r) => (server = app.listen(0, '127.0.0.1', () => r())));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const res of hung) if (!res.headersSent) res.json({ late: true });
    await meter.close();
    await new Promise((r) => server.close(r));
    client.disconnect();
  });

  it('keeps counting the requests its lease admitted', async () => {
    const clients = keepAliveClient(base, 80);
    const get = (path: string) => clients.get(path);
    const end = Date.now() + 2000;
    const traffic = Promise.all(
      Array.from({ length: 80 }, async (_, i) => {
        while (Date.now() < end) await get(i % 2 === 1 ? '/api/plain' : '/api/chat');
      }),
    );
    await new Promise((r) => setTimeout(r, 2800));
    expect(hung.length).toBeGreaterThan(0);
    // Past the reservation's 10 s in the store, with the calls still hanging.
    await new Promise((r) => setTimeout(r, 11_000));
    await meter.flushUsage();
    const status = await meter.tollgate.engine.status({ tenantId: 't-hung' });
    const used = (status.quotas.requests as Record<string, { used: number }>).day!.used;
    expect(used).toBe(handled);
    for (const res of hung) res.json({ late: true });
    await traffic;
    clients.close();
  }, 30_000);
});
