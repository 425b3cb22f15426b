// Delivered durability: a response's end reaches the client only once its usage is acknowledged by the store; ends
// that meet a write in flight share the next one; a store that does not answer in time completes the response
// degraded with its usage buffered, and the replay counts it once.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { MemoryStore, parseConfig, type ApplyOp, type ApplyResult } from '@tollgate/core';
import { trackUsage, type TrackUsageMiddleware } from '../../src';
import { captureLogger, eventually, identity, ClaimedUsage } from '@tollgate/http/testing';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const config = parseConfig({
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'free',
  plans: { free: { limits: { requests: { day: 100_000 }, tokens: { day: 1_000_000 } } } },
});

const BODY = JSON.stringify({ ok: true });

interface Gate {
  open(): void;
  wait: Promise<void>;
}

function gate(): Gate {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { open, wait };
}

/** A MemoryStore whose usage writes (record ops) go through `wrap`; admissions pass straight through. */
function storeWith(
  wrap: (op: ApplyOp, apply: (op: ApplyOp) => Promise<ApplyResult>) => Promise<ApplyResult>,
): MemoryStore {
  const store = new MemoryStore();
  const apply = store.apply.bind(store);
  store.apply = (op) => (op.mode === 'record' ? wrap(op, apply) : apply(op));
  return store;
}

describe("durability: 'delivered'", () => {
  let mw: TrackUsageMiddleware | null = null;
  let server: Server | null = null;
  let ended = 0;
  afterEach(async () => {
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    server = null;
    await mw?.close();
    mw = null;
  });

  async function start(store: MemoryStore, options: Record<string, unknown> = {}): Promise<string> {
    ended = 0;
    mw = trackUsage({ store, config, leaseMs: 0, logger: captureLogger(), ...options });
    const app = express();
    app.use(mw);
    app.get('/api/json', (_req, res) => {
      res.json({ ok: true });
      ended += 1;
    });
    app.get('/api/tokens', (req, res) => {
      req.usage.record('tokens', 7);
      res.json({ ok: true });
    });
    // The whole body goes out with a Content-Length before the end: that write is the client's last byte.
    app.get('/api/sized', (_req, res) => {
      res.setHeader('content-length', Buffer.byteLength(BODY));
      res.write(BODY);
      setTimeout(() => res.end(), 5);
    });
    const s = app.listen(0, '127.0.0.1');
    server = s;
    await new Promise((r) => s.once('listening', r));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  }

  for (const route of ['/api/json', '/api/sized']) {
    it(`holds the last bytes of ${route} until its usage write is acknowledged`, async () => {
      const seen = gate();
      const release = gate();
      let acked = false;
      const store = storeWith(async (op, apply) => {
        seen.open();
        await release.wait;
        const result = await apply(op);
        acked = true;
        return result;
      });
      const url = await start(store, { storeTimeoutMs: 5000 });
      let received = false;
      const reply = fetch(`${url}${route}`, { headers: identity('t-hold') }).then(async (r) => {
        const text = await r.text();
        received = true;
        return { status: r.status, text, ackedWhenReceived: acked };
      });
      await seen.wait;
      await sleep(50);
      expect(received).toBe(false);
      release.open();
      expect(await reply).toEqual({ status: 200, text: BODY, ackedWhenReceived: true });
    });
  }

  it('ends that come while a write is in flight share the next write', async () => {
    const writes: ApplyOp[] = [];
    const first = gate();
    const seen = gate();
    const store = storeWith(async (op, apply) => {
      writes.push(op);
      if (writes.length === 1) {
        seen.open();
        await first.wait;
      }
      return apply(op);
    });
    const url = await start(store, { storeTimeoutMs: 5000 });
    const who = identity('t-group');
    const replies = [fetch(`${url}/api/json`, { headers: who })];
    await seen.wait;
    for (let i = 0; i < 10; i++) replies.push(fetch(`${url}/api/json`, { headers: who }));
    await eventually(() => expect(ended).toBe(11));
    first.open();
    const statuses = await Promise.all(replies.map(async (r) => (await r).status));
    expect(statuses).toEqual(Array(11).fill(200));
    expect(writes).toHaveLength(2);
    const bytes = (op: ApplyOp) => op.amounts.find((a) => a.meter === 'bytes_out')?.amount;
    expect(bytes(writes[0]!)).toBe(Buffer.byteLength(BODY));
    expect(bytes(writes[1]!)).toBe(10 * Buffer.byteLength(BODY));
  });

  it('completes a response the store does not acknowledge within storeTimeoutMs, degraded, its usage buffered', async () => {
    let hang = true;
    const store = storeWith((op, apply) => (hang ? new Promise<ApplyResult>(() => undefined) : apply(op)));
    const url = await start(store, { storeTimeoutMs: 50, replayIntervalMs: 100 });
    const r = await fetch(`${url}/api/tokens`, { headers: identity('t-timeout') });
    expect(r.status).toBe(200);
    expect(r.headers.get('tollgate-degraded')).toBe('store-unavailable');
    expect(await r.text()).toBe(BODY);
    expect(mw!.tollgate.health().buffered).toBe(1);
    hang = false;
    await eventually(() => expect(mw!.tollgate.health()).toMatchObject({ buffered: 0, degraded: false }));
    const usage = await new ClaimedUsage(store).refresh();
    expect(usage.amount('tokens')).toBe(7);
    expect(usage.amount('requests')).toBe(1);
  });

  it('replays a write whose answer was lost without counting it twice', async () => {
    let late = true;
    // Applied at once, answered after the deadline: the response goes out degraded, the op is replayed.
    const store = storeWith(async (op, apply) => {
      const result = await apply(op);
      if (late) await sleep(300);
      return result;
    });
    const url = await start(store, { storeTimeoutMs: 50, replayIntervalMs: 100 });
    const r = await fetch(`${url}/api/tokens`, { headers: identity('t-lost') });
    expect(r.status).toBe(200);
    expect(r.headers.get('tollgate-degraded')).toBe('store-unavailable');
    late = false;
    await eventually(() => expect(mw!.tollgate.health()).toMatchObject({ buffered: 0, degraded: false }));
    await mw!.close();
    const usage = await new ClaimedUsage(store).refresh();
    expect(usage.amount('tokens')).toBe(7);
    expect(usage.amount('bytes_out')).toBe(Buffer.byteLength(BODY));
    expect(usage.amount('requests')).toBe(1);
  });
});
