// `req.usage` is what a handler may do with its request, not the engine's ticket: writing to it cannot change how the
// request is settled (was: req.usage was the ticket itself, and `req.usage.reservationId = null` left the
// admission's estimate held until it expired).
import express from 'express';
import request from 'supertest';
import { MemoryStore, parseConfig } from '@tollgate/core';
import { trackUsage, type TrackUsageMiddleware } from '../../src';
import { identity } from '@tollgate/http/testing';

const config = parseConfig({
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'free',
  plans: { free: { limits: { requests: { day: 100 }, tokens: { day: 10_000 } } } },
});

describe('req.usage', () => {
  let mw: TrackUsageMiddleware | null = null;
  afterEach(async () => {
    await mw?.close();
    mw = null;
  });

  it('keeps the ticket out of reach: a handler writing to it changes nothing that is counted', async () => {
    const store = new MemoryStore();
    mw = trackUsage({ store, config, leaseMs: 0, reserve: { tokens: 500 } });
    const app = express();
    app.use(mw);
    app.get('/api/x', (req, res) => {
      const usage = req.usage as unknown as Record<string, unknown>;
      usage.reservationId = null;
      usage.state = 0;
      req.usage.record('tokens', 20);
      res.json({ ok: true });
    });
    const res = await request(app).get('/api/x').set(identity('t-internals'));
    expect(res.status).toBe(200);
    await mw.flushUsage();
    const status = await mw.tollgate.status({ tenantId: 't-internals' });
    expect(status.quotas.tokens?.day?.used).toBe(20);
  });
});
