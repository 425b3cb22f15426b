// `req.usage.onClose(hook)`: hooks run when the response closes, in order, before the engine counts the request,
// so what they record joins the request's own settlement op (the gateway's token settlement relies on it).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { MemoryStore, type ApplyOp, type ApplyResult } from '@tollgate/core';
import { trackUsage, type TrackUsageMiddleware } from '../../src';
import { SUITE_CONFIG, identity } from '@tollgate/http/testing';

/** A MemoryStore that keeps every op it applied. */
class RecordingStore extends MemoryStore {
  readonly ops: ApplyOp[] = [];
  override apply(op: ApplyOp): Promise<ApplyResult> {
    this.ops.push(op);
    return super.apply(op);
  }
}

function tokensOf(op: ApplyOp): number {
  return op.amounts.filter((a) => a.meter === 'tokens').reduce((sum, a) => sum + a.amount, 0);
}

describe('req.usage.onClose', () => {
  let store: RecordingStore;
  let mw: TrackUsageMiddleware;
  let server: http.Server;
  let url: string;
  const calls: string[] = [];

  beforeAll(async () => {
    store = new RecordingStore();
    mw = trackUsage({
      store,
      config: SUITE_CONFIG,
      leaseMs: 0,
      durability: 'batched',
      reserve: () => ({ tokens: 100 }),
      // The throwing hook is reported through the logger: kept out of the test output.
      logger: { error: () => undefined, warn: () => undefined },
    });
    const app = express();
    app.use(mw);
    app.get('/api/hooks', (req, res) => {
      req.usage.onClose(() => {
        calls.push(`first finished=${res.writableFinished}`);
        req.usage.record('tokens', 7);
      });
      req.usage.onClose(() => {
        throw new Error('a failing hook');
      });
      req.usage.onClose(() => calls.push('third'));
      res.json({});
    });
    app.get('/api/unmetered', (req, res) => {
      req.usage.onClose(() => calls.push('unmetered'));
      res.json({});
    });
    server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await mw.close();
  });

  it('runs every hook once at close, in order, past one that throws, with its records in the settlement op', async () => {
    const res = await fetch(`${url}/api/hooks`, { headers: identity('close-hooks', 'u1', 'budget') });
    await res.text();
    for (let i = 0; i < 100 && !store.ops.some((op) => op.settle || op.settleIds); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(calls).toEqual(['first finished=true', 'third']);
    const settlement = store.ops.find((op) => op.settle !== undefined || (op.settleIds ?? []).length > 0);
    expect(settlement).toBeDefined();
    expect(tokensOf(settlement!)).toBe(7);
    expect(store.ops.filter((op) => tokensOf(op) === 7)).toHaveLength(1);
  });

  it('is a no-op for a request that is not metered', async () => {
    calls.length = 0;
    const res = await fetch(`${url}/api/unmetered`);
    await res.text();
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toEqual([]);
  });
});
