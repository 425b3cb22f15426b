// A shard the ledger holds nothing for (a subject never seen) is not seeded by a store call of its own: its first op
// is sent again with seed 'auto', which marks it seeded as it applies. A shard with usage in the ledger is seeded.
import { MemoryStore, QuotaEngine, parseConfig, type SeedOp, type BaselineQuery } from '../../src';

const config = parseConfig({ subject: 'tenant', plans: { free: { limits: { requests: { day: 5 } } } } });

class CountingStore extends MemoryStore {
  seeds: SeedOp[] = [];
  override seed(op: SeedOp) {
    this.seeds.push(op);
    return super.seed(op);
  }
}

it('admits a never-seen subject without a seed call, and counts from the ledger for a known one', async () => {
  const store = new CountingStore();
  const asked: BaselineQuery[] = [];
  const engine = new QuotaEngine({
    store,
    config,
    baseline: async (q) => {
      asked.push(q);
      return q.id === 'known' ? 4 : 0;
    },
  });
  expect((await engine.consume({ tenantId: 'new' }, { requests: 1 })).admitted).toBe(true);
  expect(store.seeds).toEqual([]);
  // Marked seeded by that op: the ledger is not asked again.
  const before = asked.length;
  expect((await engine.consume({ tenantId: 'new' }, { requests: 1 })).admitted).toBe(true);
  expect(asked.length).toBe(before);
  expect((await engine.status({ tenantId: 'new' })).quotas.requests?.day?.used).toBe(2);

  expect((await engine.consume({ tenantId: 'known' }, { requests: 1 })).admitted).toBe(true);
  expect(store.seeds.map((s) => s.tag)).toEqual([engine.resolve({ tenantId: 'known' }).tag]);
  expect((await engine.consume({ tenantId: 'known' }, { requests: 1 })).admitted).toBe(false);
  expect((await engine.status({ tenantId: 'known' })).quotas.requests?.day?.used).toBe(5);
  await store.close();
});
