// Regression (found in review): an apply touching no counter (a response's usage of meters no plan limits, sent in
// the lean form) skipped the seeded-scopes check, so after Redis lost its data the shard was never rebuilt from the
// ledger: an override kept there (on a meter the plan does not limit) was never restored, never enforced, and
// usage recorded meanwhile was missing from the rebuilt counter. MemoryStore and RedisStore must agree.
import { MemoryStore, QuotaEngine, type BaselineSource, type CounterStore } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';
import { config, ownRedis } from '../integration/helpers';

const cfg = config({
  plans: { open: { limits: {} }, metered: { limits: { requests: { day: 100 } } } },
});
const redis = ownRedis();

/** The ledger after the store lost its data: no usage, one durable tenant override. */
function ledger(tenantId: string, meter: string, limit: number): BaselineSource & { asked: number } {
  const source = {
    asked: 0,
    used: async () => 0,
    async shardBaseline(
      scopes: Array<{ scope: string; id: string }>,
      _shard: unknown,
      qs: readonly unknown[],
    ) {
      source.asked++;
      const overrides = scopes.some((s) => s.scope === 'tenant' && s.id === tenantId)
        ? [{ scope: 'tenant' as const, id: tenantId, meter, period: 'day' as const, limit }]
        : [];
      return { overrides, used: qs.map(() => 0) };
    },
  };
  return source;
}

const stores: Array<[string, () => CounterStore]> = [
  ['MemoryStore', () => new MemoryStore()],
  [
    'RedisStore',
    () =>
      new RedisStore({ client: redis.client(), prefix: `seeding${Math.random().toString(36).slice(2)}:` }),
  ],
];

describe.each(stores)('%s after a data loss', (_name, make) => {
  it('restores and enforces a ledger override of a meter the plan does not limit (requests/day = 2)', async () => {
    const source = ledger('acme', 'requests', 2);
    const engine = new QuotaEngine({ store: make(), config: cfg, baseline: source });
    const who = { tenantId: 'acme', plan: 'open' };
    const admitted = [];
    for (let i = 0; i < 4; i++) admitted.push((await engine.consume(who, { requests: 1 })).admitted);
    expect({ admitted, rebuilds: source.asked }).toEqual({
      admitted: [true, true, false, false],
      rebuilds: 1,
    });
  });

  it('counts usage recorded before the first admission against a restored override (latency_ms/day = 25)', async () => {
    const source = ledger('beta', 'latency_ms', 25);
    const engine = new QuotaEngine({ store: make(), config: cfg, baseline: source });
    const who = { tenantId: 'beta', plan: 'metered' };
    // A response's op (only unlimited meters) is the first op after the loss.
    await engine.record(who, [{ meter: 'latency_ms', amount: 20 }]);
    expect((await engine.consume(who, { requests: 1 })).admitted).toBe(true);
    const refused = await engine.consume(who, { latency_ms: 20 });
    const status = await engine.status(who);
    expect({ admitted: refused.admitted, used: status.quotas.latency_ms?.day?.used }).toEqual({
      admitted: false,
      used: 20,
    });
  });
});
