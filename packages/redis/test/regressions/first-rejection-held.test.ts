// Regression (found in review): a rejection's firstRejections (the violated counters rejecting for the first time in
// their window) left out what reservations hold on them (`held`) in RedisStore, while its violations and
// MemoryStore's first rejections carry it.
import { MemoryStore, QuotaEngine, type ApplyOp, type CounterStore } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';
import { config, deleteKeys, ready, redisClient } from '../integration/helpers';
import { REDIS_URL } from '../../../../test-support/services';
import type Redis from 'ioredis';

const cfg = config({ plans: { free: { limits: { tokens: { day: 100 } } } } });
let client: Redis;
const prefix = `first-held-${Math.random().toString(36).slice(2)}:`;
beforeAll(async () => {
  client = await ready(redisClient(REDIS_URL));
});
afterAll(async () => {
  await deleteKeys(client, prefix);
  await client.quit();
});

function tokensOp(engine: QuotaEngine, opId: string, amount: number, reserve: boolean): ApplyOp {
  const subject = engine.resolve({ tenantId: 'acme' });
  const now = Date.now();
  return {
    opId,
    tag: subject.tag,
    now,
    mode: 'enforce',
    scopes: subject.scopes,
    windows: engine.windowsAt(now),
    limits: subject.limits,
    amounts: reserve ? [] : [{ meter: 'tokens', amount }],
    ...(reserve
      ? { reserve: { id: `r-${opId}`, expiresAt: now + 60_000, amounts: [{ meter: 'tokens', amount }] } }
      : {}),
    usage: [],
    warnAt: [],
    seed: 'auto',
  };
}

const stores: Array<[string, () => CounterStore]> = [
  ['MemoryStore', () => new MemoryStore()],
  ['RedisStore', () => new RedisStore({ client, prefix })],
];

it.each(stores)('%s: a first rejection says what reservations hold on the counter', async (_name, make) => {
  const store = make();
  const engine = new QuotaEngine({ store, config: cfg });
  expect((await store.apply(tokensOp(engine, 'hold', 80, true))).status).toBe('applied');
  const r = await store.apply(tokensOp(engine, 'over', 30, false));
  expect(r.status).toBe('rejected');
  if (r.status !== 'rejected') return;
  expect(r.violations.map((v) => [v.meter, v.used, v.held])).toEqual([['tokens', 80, 80]]);
  expect(r.firstRejections).toEqual(r.violations);
});
