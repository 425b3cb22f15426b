// With `durability: 'batched'` (with 'delivered' every response's end writes its sum at once: see delivered-commit.test.ts).
// When post-response usage reaches the store: a sum holding recorded usage (which a limit may read) within
// `usageBatchMs`; a sum of request statistics alone (latency, bytes, errors) after the longer statistics delay,
// unless a plan limits one of them; everything at close() or flushUsage().
import express from 'express';
import request from 'supertest';
import { MemoryStore, parseConfig, type ApplyOp, type TollgateConfig } from '@tollgate/core';
import { trackUsage, type TrackUsageMiddleware } from '../../src';
import { identity } from '@tollgate/http/testing';
import { recordingStore } from '../../../../test-support/middleware/recording-store';

const BATCH_MS = 50; // statistics alone: 500 ms
const LOOK_AFTER_MS = 250;

/** The meters the writes carried (not `latency_ms`: a request on loopback may take 0 ms, and 0 is not written). */
function meters(writes: ApplyOp[]): string[] {
  return [...new Set(writes.flatMap((w) => w.amounts.map((a) => a.meter)))]
    .filter((m) => m !== 'latency_ms')
    .sort();
}

const plain = parseConfig({
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'free',
  plans: { free: { limits: { requests: { day: 100 }, tokens: { day: 5000 } } } },
});
const bytesLimited = parseConfig({
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'free',
  plans: { free: { limits: { requests: { day: 100 }, bytes_out: { day: 1_000_000 } } } },
});

describe('when post-response usage is written', () => {
  let mw: TrackUsageMiddleware | null = null;
  afterEach(async () => {
    await mw?.close();
    mw = null;
  });

  function app(config: TollgateConfig, store: MemoryStore): express.Express {
    mw = trackUsage({ store, config, usageBatchMs: BATCH_MS, leaseMs: 0, durability: 'batched' });
    const a = express();
    a.use(mw);
    a.get('/api/plain', (_req, res) => {
      res.json({ ok: true });
    });
    a.get('/api/tokens', (req, res) => {
      req.usage.record('tokens', 7);
      res.json({ ok: true });
    });
    return a;
  }

  it('writes recorded usage within usageBatchMs, with the statistics of the same sum', async () => {
    const { store, writes } = recordingStore();
    const res = await request(app(plain, store)).get('/api/tokens').set(identity('t-rec'));
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, LOOK_AFTER_MS));
    expect(writes).toHaveLength(1);
    expect(meters(writes)).toEqual(['bytes_out', 'tokens']);
    expect(writes[0]!.amounts.find((a) => a.meter === 'tokens')?.amount).toBe(7);
  });

  it('holds a sum of statistics alone for the longer delay, then writes it once', async () => {
    const { store, writes } = recordingStore();
    const a = app(plain, store);
    await request(a).get('/api/plain').set(identity('t-stats'));
    await request(a).get('/api/plain').set(identity('t-stats'));
    await new Promise((r) => setTimeout(r, LOOK_AFTER_MS));
    expect(writes).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 10 * BATCH_MS));
    expect(writes).toHaveLength(1);
    expect(meters(writes)).toEqual(['bytes_out']);
    const bytes = writes[0]!.amounts.find((w) => w.meter === 'bytes_out')?.amount;
    expect(bytes).toBe(2 * Buffer.byteLength(JSON.stringify({ ok: true })));
  });

  it('a statistic some plan limits is written within usageBatchMs', async () => {
    const { store, writes } = recordingStore();
    await request(app(bytesLimited, store)).get('/api/plain').set(identity('t-limited'));
    await new Promise((r) => setTimeout(r, LOOK_AFTER_MS));
    expect(writes).toHaveLength(1);
    expect(meters(writes)).toEqual(['bytes_out']);
  });

  it('flushUsage() writes a held sum without waiting out its window', async () => {
    const { store, writes } = recordingStore();
    await request(app(plain, store)).get('/api/plain').set(identity('t-flush'));
    mw!.flushUsage();
    await new Promise((r) => setTimeout(r, 50));
    expect(writes).toHaveLength(1);
    expect(meters(writes)).toEqual(['bytes_out']);
  });

  it('close() writes a held sum at once', async () => {
    const { store, writes } = recordingStore();
    await request(app(plain, store)).get('/api/plain').set(identity('t-close'));
    expect(writes).toHaveLength(0);
    await mw!.close();
    mw = null;
    expect(writes).toHaveLength(1);
    expect(meters(writes)).toEqual(['bytes_out']);
  });
});
