// Regression: a `reserve` estimate the store refuses (not an integer) was found only by the admission op, which
// admits every request of its subject that arrived in the same event-loop turn: one client's bad estimate answered
// its whole group with 500s. It is now that request's own error, before it joins a group.
import type { AddressInfo } from 'node:net';
import express from 'express';
import Redis from 'ioredis';
import { parseConfig } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';
import { trackUsage } from '@tollgate/express';
import { REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { get } from '@tollgate/http/testing';

describe('an invalid estimate in an admission group', () => {
  const client = new Redis(REDIS_URL);
  let url = '';
  let server: ReturnType<ReturnType<typeof express>['listen']>;
  const handled: string[] = [];
  let meter: ReturnType<typeof trackUsage> | null = null;

  beforeAll(async () => {
    const store = new RedisStore({ client, prefix: uniquePrefix('express-bad-estimate') });
    const config = parseConfig({
      defaultPlan: 'free',
      plans: { free: { limits: { requests: { day: 1000 }, tokens: { day: 1_000_000 } } } },
    });
    const app = express();
    meter = trackUsage({
      store,
      config,
      identify: () => ({ tenantId: 't-bad-estimate' }),
      reserve: (req) => ({ tokens: Number(req.headers['x-estimate'] ?? '10') }),
    });
    app.use(meter);
    app.get('/api/x', (req, res) => {
      handled.push(String(req.headers['x-estimate'] ?? ''));
      res.json({ ok: true });
    });
    await new Promise<void>((r) => (server = app.listen(0, '127.0.0.1', () => r())));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    // Its last usage writes land before the store's connection goes.
    await meter?.close();
    await new Promise((r) => server.close(r));
    client.disconnect();
  });

  it('fails only the request that sent it', async () => {
    // Sent together (rounds of 40), so that they share admission ops.
    const estimates = Array.from({ length: 40 }, (_, i) => (i === 13 ? '1.5' : i === 27 ? '-3' : '10'));
    for (let round = 0; round < 5; round++) {
      const replies = await Promise.all(estimates.map((e) => get(`${url}/api/x`, { 'x-estimate': e })));
      const statuses = replies.map((r) => r.status);
      expect(statuses).toEqual(estimates.map((e) => (e === '10' ? 200 : 500)));
    }
    expect(handled.filter((e) => e === '10')).toHaveLength(5 * 38);
    expect(handled).not.toContain('1.5');
    expect(handled).not.toContain('-3');
  });
});
