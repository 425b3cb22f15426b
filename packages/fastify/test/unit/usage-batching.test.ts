// With `durability: 'batched'` (with 'delivered' every response's end writes its sum at once: see delivered-commit.test.ts).
// When post-response usage reaches the store from the Fastify plugin: request statistics alone wait the longer
// delay (10 x usageBatchMs), recorded usage is written within usageBatchMs, and app.tollgateFlushUsage() writes
// a held sum at once.
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { parseConfig, type ApplyOp } from '@tollgate/core';
import { tollgate } from '../../src';
import { recordingStore } from '../../../../test-support/middleware/recording-store';

const BATCH_MS = 50; // statistics alone: 500 ms
const LOOK_AFTER_MS = 250;
const HEADERS = { 'x-tenant-id': 't-fastify', 'x-user-id': 'u1', 'x-user-tier': 'free' };
const config = parseConfig({
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'free',
  plans: { free: { limits: { requests: { day: 100 }, tokens: { day: 5000 } } } },
});

/** Post-response usage writes (record ops) a MemoryStore applied, and the meters each carried. */
async function build(): Promise<{ app: FastifyInstance; writes: ApplyOp[] }> {
  const { store, writes } = recordingStore();
  const app = Fastify();
  await app.register(tollgate, { store, config, usageBatchMs: BATCH_MS, leaseMs: 0, durability: 'batched' });
  app.get('/api/plain', async () => ({ ok: true }));
  app.get('/api/tokens', async (request) => {
    request.usage.record('tokens', 7);
    return { ok: true };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, writes };
}

/** GET `path` on the listening app (light-my-request's `inject` does not load under this jest setup). */
async function get(app: FastifyInstance, path: string): Promise<number> {
  const { port } = app.server.address() as AddressInfo;
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: HEADERS });
  await res.text();
  return res.status;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const carried = (writes: ApplyOp[], meter: string) =>
  writes
    .flatMap((w) => w.amounts)
    .filter((a) => a.meter === meter)
    .reduce((n, a) => n + a.amount, 0);

describe('Fastify plugin: when post-response usage is written', () => {
  let app: FastifyInstance;
  let writes: ApplyOp[];
  beforeEach(async () => {
    ({ app, writes } = await build());
  });
  afterEach(async () => {
    await app.close();
  });

  it('holds statistics alone past usageBatchMs; tollgateFlushUsage() writes them at once', async () => {
    expect(await get(app, '/api/plain')).toBe(200);
    await sleep(LOOK_AFTER_MS);
    expect(writes).toHaveLength(0);
    app.tollgateFlushUsage();
    await sleep(50);
    expect(writes).toHaveLength(1);
    expect(carried(writes, 'bytes_out')).toBe(Buffer.byteLength(JSON.stringify({ ok: true })));
  });

  it('writes recorded usage within usageBatchMs', async () => {
    expect(await get(app, '/api/tokens')).toBe(200);
    await sleep(LOOK_AFTER_MS);
    expect(writes).toHaveLength(1);
    expect(carried(writes, 'tokens')).toBe(7);
  });
});
