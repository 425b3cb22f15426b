// Regression (found in review): a rejection's firstRejections (the violated counters rejecting for the first time in
// their window) left out what reservations hold on them (`held`) in RedisStore, while its violations and
// MemoryStore's first rejections carry it.
import { MemoryStore, QuotaEngine, type ApplyOp, type CounterStore } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';
import { config, opOf, ownRedis } from '../integration/helpers';

const cfg = config({ plans: { free: { limits: { tokens: { day: 100 } } } } });
const redis = ownRedis();

/** Reserves `amount` tokens (held, not used), or uses them. */
function tokensOp(engine: QuotaEngine, opId: string, amount: number, reserve: boolean): ApplyOp {
  const tokens = [{ meter: 'tokens', amount }];
  return reserve
    ? opOf(engine, { tenantId: 'acme' }, opId, [], {
        reserve: { id: `r-${opId}`, expiresAt: Date.now() + 60_000, amounts: tokens },
      })
    : opOf(engine, { tenantId: 'acme' }, opId, tokens);
}

const stores: Array<[string, () => CounterStore]> = [
  ['MemoryStore', () => new MemoryStore()],
  ['RedisStore', () => new RedisStore({ client: redis.client(), prefix: 'first-held:' })],
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
