// A spent budget of another meter refuses a busy subject's requests too: admission leases are gated like single
// admissions, so a lease granted before the budget ran out is the last one.
import express from 'express';
import request from 'supertest';
import { MemoryStore, parseConfig } from '@tollgate/core';
import { trackUsage, type TrackUsageMiddleware } from '../../src';
import type { AddressInfo } from 'node:net';
import { burst, identity } from '@tollgate/http/testing';

const config = parseConfig({
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'metered',
  plans: { metered: { limits: { requests: { day: 1_000_000 }, tokens: { day: 100 } } } },
});

describe('a spent token budget under busy traffic', () => {
  let mw: TrackUsageMiddleware;
  afterEach(() => mw.close());

  it('refuses the subject\u2019s requests within a few lease periods, leases or not', async () => {
    mw = trackUsage({ store: new MemoryStore(), config });
    const app = express();
    app.use(mw);
    app.get('/api/x', (_req, res) => {
      res.json({ ok: true });
    });
    app.get('/api/spend', (req, res) => {
      req.usage.record('tokens', 100);
      res.json({ ok: true });
    });
    const agent = request(app);
    const who = identity('t-busy', 'u1', 'metered');
    const wave = () => Promise.all(Array.from({ length: 20 }, () => agent.get('/api/x').set(who)));
    // Busy enough for admission leases.
    for (let i = 0; i < 10; i++) expect((await wave()).every((r) => r.status === 200)).toBe(true);
    expect((await agent.get('/api/spend').set(who)).status).toBe(200);
    // Past usageBatchMs and the longest a lease and the spare granted beside it last (2 x 4 x leaseMs, 400 ms by
    // default): every request is refused from then on.
    const started = Date.now();
    while (Date.now() - started < 600) await wave();
    const after = await wave();
    expect(after.map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 429));
    expect(after[0]!.body).toMatchObject({ meter: 'tokens', period: 'day', limit: 100, used: 100 });
  });

  it('refuses a whole burst by the spent budget, even where requests still have room', async () => {
    const tight = parseConfig({
      subject: 'tenant',
      timezone: 'UTC',
      defaultPlan: 'metered',
      plans: { metered: { limits: { requests: { day: 100 }, tokens: { day: 100 } } } },
    });
    mw = trackUsage({ store: new MemoryStore(), config: tight, leaseMs: 0 });
    const app = express();
    app.use(mw);
    app.get('/api/x', (_req, res) => {
      res.json({ ok: true });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const who = { tenantId: 't-burst-gate', plan: 'metered' };
      await mw.tollgate.consume(who, { requests: 98 });
      await mw.tollgate.record(who, 'tokens', 100);
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const replies = await burst(url, '/api/x', 20, identity('t-burst-gate', 'u1', 'metered'), 5);
      // Split at the requests limit, two would have been kept, then refused by the store, while the other 429s
      // named a requests limit "used up" by requests never admitted.
      expect(new Set(replies.map((r) => `${r.status} ${(r.json() as { meter: string }).meter}`))).toEqual(
        new Set(['429 tokens']),
      );
      expect((await mw.tollgate.status(who)).quotas.requests?.day?.used).toBe(98);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
