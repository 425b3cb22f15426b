// Two users of one tenant share a shard tag. When both first requests need a seed at once, the second joins the
// first's rebuild, which asked the ledger about the tenant and the first user only. That rebuild found nothing, and
// the second user's op was resent with seed 'auto': its user scope was marked seeded at zero, its ledger usage never
// read, and it was admitted past its cap.
import { MemoryStore, QuotaEngine, parseConfig, type BaselineQuery } from '../../src';

const config = parseConfig({
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'free',
  plans: { free: { limits: {} } },
  userLimits: { free: { requests: { day: 5 } } },
});

it("reads a user's ledger usage even when its first request joins another user's empty rebuild", async () => {
  const store = new MemoryStore();
  const asked: string[] = [];
  const engine = new QuotaEngine({
    store,
    config,
    baseline: async (q: BaselineQuery) => {
      asked.push(`${q.scope}:${q.id}`);
      return q.scope === 'user' && q.id === 'bob' ? 4 : 0;
    },
  });
  const [alice, bob] = await Promise.all([
    engine.consume({ tenantId: 'acme', userId: 'alice' }, { requests: 1 }),
    engine.consume({ tenantId: 'acme', userId: 'bob' }, { requests: 1 }),
  ]);
  expect(alice.admitted).toBe(true);
  expect(bob.admitted).toBe(true);
  expect(asked).toContain('user:bob');
  // 4 in the ledger + 1 = the cap of 5: the next one is refused.
  expect((await engine.consume({ tenantId: 'acme', userId: 'bob' }, { requests: 1 })).admitted).toBe(false);
  expect((await engine.status({ tenantId: 'acme', userId: 'bob' })).userQuotas.requests?.day?.used).toBe(5);
  expect((await engine.status({ tenantId: 'acme', userId: 'alice' })).userQuotas.requests?.day?.used).toBe(1);
  await store.close();
});
