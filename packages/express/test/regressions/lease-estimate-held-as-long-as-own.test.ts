// Regression: a closed lease waiting for its calls was settled half its hold after it closed (150 s by default,
// reservationTtlMs / 2), so a call admitted from a lease had its estimate held half as long as its own reservation
// would be, and calls between the two overspent a token budget (6.7% with 12-15 s calls and reservationTtlMs 20 s).
// A waiting lease is now settled, at the latest, reservationTtlMs after its last admission.
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import express from 'express';
import Redis from 'ioredis';
import { parseConfig } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';
import { trackUsage } from '@tollgate/express';
import { REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { keepAliveClient } from '../../../../test-support/keep-alive-client';

const ESTIMATE = 1000;
const LIMIT = 300 * ESTIMATE;
// Longer than half of reservationTtlMs (12 s), shorter than all of it.
const CALL_MS = 8000;
const CLIENTS = 400;
const RUN_MS = 9000;

describe('a call admitted from a lease, longer than half its reservation time', () => {
  const client = new Redis(REDIS_URL);
  const meter = trackUsage({
    store: new RedisStore({ client, prefix: uniquePrefix('express-lease-held-long') }),
    config: parseConfig({ defaultPlan: 'free', plans: { free: { limits: { tokens: { day: LIMIT } } } } }),
    reservationTtlMs: 12_000,
    identify: () => ({ tenantId: 't-held-long' }),
    reserve: () => ({ tokens: ESTIMATE }),
  });
  let server: http.Server;
  let url = '';
  let admitted = 0;

  beforeAll(async () => {
    const app = express();
    app.use(meter);
    app.get('/api/chat', (req, res) => {
      admitted += 1;
      setTimeout(() => {
        req.usage.record('tokens', ESTIMATE);
        res.json({ ok: true });
      }, CALL_MS);
    });
    await new Promise<void>((r) => (server = app.listen(0, '127.0.0.1', () => r())));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/chat`;
  });

  afterAll(async () => {
    await meter.close();
    await new Promise((r) => server.close(r));
    client.disconnect();
  });

  it('keeps its estimate held until it ends: the budget is never passed', async () => {
    const clients = keepAliveClient(url, CLIENTS);
    const get = () => clients.get();
    const end = Date.now() + RUN_MS;
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        // Staggered over a second: the calls overlap, so they are admitted from leases.
        await new Promise((r) => setTimeout(r, i * 3));
        while (Date.now() < end) {
          const status = await get();
          statuses.push(status);
          if (status === 429) await new Promise((r) => setTimeout(r, 50));
        }
      }),
    );
    clients.close();
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(admitted).toBeLessThanOrEqual(LIMIT / ESTIMATE);
  }, 40_000);
});
