// A handler's `req.usage.reserve()` and what it records: limits see the recorded usage while the request still runs
// (a long stream that records as it goes, beyond its estimate), and its estimate is released no earlier than that.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { MemoryStore, QuotaExceededError } from '@tollgate/core';
import { trackUsage, type TrackUsageMiddleware } from '../../src';
import { SUITE_CONFIG, identity } from '@tollgate/http/testing';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('reserve() and record() in one request', () => {
  let mw: TrackUsageMiddleware;
  let server: Server;
  let url: string;
  let finishStream: () => void = () => {};

  beforeEach(async () => {
    mw = trackUsage({ store: new MemoryStore(), config: SUITE_CONFIG, leaseMs: 0 });
    const app = express();
    app.use(mw);
    // Reserves 100 tokens, then records 8 x 500 while it streams, and ends when the test says so.
    app.get('/api/stream', (req, res, next) => {
      req.usage.reserve({ tokens: 100 }).then(async () => {
        res.write('[');
        for (let i = 0; i < 8; i++) req.usage.record('input_tokens', 500, { model: 'demo-model' });
        await new Promise<void>((r) => (finishStream = r));
        res.end(']');
      }, next);
    });
    app.get('/api/reserve', (req, res, next) => {
      req.usage.reserve({ tokens: Number(req.query.tokens) }).then(
        () => res.json({ ok: true }),
        (err: unknown) => {
          if (!(err instanceof QuotaExceededError)) return next(err);
          res.status(err.status).json(err.problem);
        },
      );
    });
    server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    finishStream();
    await mw.close();
    await new Promise((r) => server.close(r));
  });

  it('counts what a running request recorded beyond its estimate against the next reservation', async () => {
    const who = identity('t-stream', 'u1', 'budget'); // tokens: 5000 a day
    const stream = await fetch(`${url}/api/stream`, { headers: who });
    expect(stream.status).toBe(200);
    await sleep(100); // past usageBatchMs: the 4000 recorded tokens are in the store
    const next = await fetch(`${url}/api/reserve?tokens=1500`, { headers: who });
    expect(next.status).toBe(429);
    expect(await next.json()).toMatchObject({ meter: 'tokens', limit: 5000 });
    finishStream();
    await stream.text();
    await mw.flushUsage();
    const status = await mw.tollgate.status({ tenantId: 't-stream', userId: 'u1', plan: 'budget' });
    expect(status.quotas.tokens?.day?.used).toBe(4000);
  });
});
