// A store that answers slowly, late or not at all, under the request path: quotas stay exact while it answers
// within storeTimeoutMs, degraded requests are counted and marked, and flushUsage() writes everything counted.
import express from 'express';
import request from 'supertest';
import { MemoryStore, parseConfig, QuotaExceededError, type ApplyOp, type ApplyResult } from '@tollgate/core';
import { trackUsage, type TrackUsageMiddleware } from '../../src';
import { captureLogger, identity, ClaimedUsage } from '@tollgate/http/testing';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const config = parseConfig({
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'two',
  warnAt: [50, 100],
  plans: {
    two: { limits: { requests: { day: 2 } } },
    one: { limits: { requests: { day: 1 } } },
    busy: { limits: { requests: { day: 100_000 }, tokens: { day: 10_000 } } },
  },
});

/** A MemoryStore whose `apply` goes through `wrap` (delays, hangs). */
function storeWith(
  wrap: (op: ApplyOp, apply: (op: ApplyOp) => Promise<ApplyResult>) => Promise<ApplyResult>,
): MemoryStore {
  const store = new MemoryStore();
  const apply = store.apply.bind(store);
  store.apply = (op) => wrap(op, apply);
  return store;
}

describe('a slow, late or silent store', () => {
  let mw: TrackUsageMiddleware | null = null;
  afterEach(async () => {
    await mw?.close();
    mw = null;
  });

  function app(store: MemoryStore, options: Record<string, unknown> = {}): express.Express {
    mw = trackUsage({ store, config, logger: captureLogger(), ...options });
    const a = express();
    a.use(mw);
    a.get('/api/x', (_req, res) => {
      res.json({ ok: true });
    });
    a.get('/api/reserve', (req, res, next) => {
      req.usage
        .reserve({ tokens: 100 })
        .then(() => res.json({ degraded: req.usage.degraded }))
        .catch((err: unknown) => {
          if (!(err instanceof QuotaExceededError)) return next(err);
          res.status(err.status).send(err.problem);
        });
    });
    return a;
  }

  it('keeps a quota exact when every op takes most of storeTimeoutMs (events are kept off the deadline)', async () => {
    // Each op alone fits the deadline; an admission followed by its threshold or quota_exceeded event would not.
    const store = storeWith(async (op, apply) => {
      await sleep(60);
      return apply(op);
    });
    const a = app(store, { storeTimeoutMs: 100, leaseMs: 0 });
    const answers = [];
    for (let i = 0; i < 3; i++)
      answers.push(
        await request(a)
          .get('/api/x')
          .set(identity('t-slow', 'u1', 'two')),
      );
    expect(answers.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(answers.map((r) => r.headers['tollgate-degraded'])).toEqual([undefined, undefined, undefined]);
  });

  it('counts a request admitted degraded even when the store had turned its admission down', async () => {
    let late = false;
    const store = storeWith(async (op, apply) => {
      const result = await apply(op);
      // Applied, but answered after the deadline: the caller fails open.
      if (late) await sleep(300);
      return result;
    });
    const a = app(store, { storeTimeoutMs: 100, replayIntervalMs: 50, leaseMs: 0 });
    expect(
      (
        await request(a)
          .get('/api/x')
          .set(identity('t-late', 'u1', 'one'))
      ).status,
    ).toBe(200);
    late = true;
    const degraded = await request(a)
      .get('/api/x')
      .set(identity('t-late', 'u1', 'one'));
    late = false;
    expect(degraded.status).toBe(200);
    expect(degraded.headers['tollgate-degraded']).toBe('store-unavailable');
    // Both handlers ran: both requests count, once each, after the replay.
    const usage = new ClaimedUsage(store);
    for (let i = 0; i < 100 && usage.amount('requests') < 2; i++) {
      await sleep(20);
      await usage.refresh();
    }
    await sleep(300);
    await usage.refresh();
    expect(usage.amount('requests')).toBe(2);
    const status = await mw!.tollgate.engine.status({ tenantId: 't-late', plan: 'one' });
    expect(status.quotas.requests!.day!.used).toBe(2);
  });

  it('marks a response degraded when req.usage.reserve() gets no answer in time (fail-open)', async () => {
    const store = storeWith((op, apply) =>
      op.reserve?.amounts.some((r) => r.meter === 'tokens') ? new Promise(() => {}) : apply(op),
    );
    const res = await request(app(store, { storeTimeoutMs: 50, leaseMs: 0 }))
      .get('/api/reserve')
      .set(identity('t-hang', 'u1', 'busy'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ degraded: true });
    expect(res.headers['tollgate-degraded']).toBe('store-unavailable');
  });

  it('flushUsage() resolves once every request counted so far is written, leased ones too', async () => {
    const store = new MemoryStore();
    const a = app(store);
    const who = identity('t-flush', 'u1', 'busy');
    const agent = request(a);
    // Enough concurrent requests for an admission lease.
    for (let round = 0; round < 10; round++) {
      await Promise.all(Array.from({ length: 30 }, () => agent.get('/api/x').set(who).expect(200)));
    }
    await mw!.flushUsage();
    const usage = await new ClaimedUsage(store).refresh();
    expect(usage.amount('requests')).toBe(300);
  });
});
