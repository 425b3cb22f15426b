// close() is often called more than once in a shutdown (a SIGTERM handler, then the server's own close path) while
// requests are still being served: each call resolves only once what was counted before it is written, so the
// caller may close the store right after it.
import express from 'express';
import request from 'supertest';
import { MemoryStore, parseConfig, type ApplyOp } from '@tollgate/core';
import { trackUsage } from '../../src';
import { identity } from '@tollgate/http/testing';

const config = parseConfig({
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'free',
  plans: { free: { limits: { requests: { day: 100 } } } },
});

/** A MemoryStore that answers each write 30 ms late, and keeps the usage writes it answered. */
function slowStore(): { store: MemoryStore; answered: ApplyOp[] } {
  const store = new MemoryStore();
  const answered: ApplyOp[] = [];
  const apply = store.apply.bind(store);
  store.apply = async (op) => {
    await new Promise((r) => setTimeout(r, 30));
    const result = await apply(op);
    if (op.mode === 'record') answered.push(op);
    return result;
  };
  return { store, answered };
}

it('writes, on a second close(), the statistics of requests served after the first, before it resolves', async () => {
  const { store, answered } = slowStore();
  // Statistics alone would wait 10 x usageBatchMs: only close() writes them here.
  const mw = trackUsage({ store, config, usageBatchMs: 5000, leaseMs: 0 });
  const app = express();
  app.use(mw);
  app.get('/api/hello', (_req, res) => {
    res.json({ hello: 'world' });
  });
  await mw.close();
  for (let i = 0; i < 5; i++) {
    expect((await request(app).get('/api/hello').set(identity('t-close-twice'))).status).toBe(200);
  }
  await mw.close();
  const bytesOut = answered
    .flatMap((op) => op.amounts)
    .filter((a) => a.meter === 'bytes_out')
    .reduce((sum, a) => sum + a.amount, 0);
  expect(bytesOut).toBe(5 * Buffer.byteLength(JSON.stringify({ hello: 'world' })));
  await store.close();
});
