// The contract suite, seeding (step 1 of `apply`, and `seed`): a lost shard, user cap or key rebuilt from the
// baseline before anything is admitted.
/// <reference types="jest" />
import type { CounterStore } from '../../store';
import { uniqueId, type TestClock, type ContractKit } from './kit';

/** Registers this group's cases; `kit` hands each case the store and clock of the running test. */
export function seedingCases(kit: ContractKit): void {
  let store: CounterStore;
  let clock: TestClock;
  const { engine } = kit;
  beforeEach(() => {
    ({ store, clock } = kit.current());
  });

  it('rebuilds a lost shard from the baseline before admitting anything', async () => {
    const calls: string[] = [];
    const e = engine({
      used: async (q) => {
        calls.push(`${q.scope}:${q.meter}:${q.period}`);
        return q.meter === 'requests' && q.period === 'day' ? 5 : 0;
      },
    });
    const who = { tenantId: uniqueId('t'), plan: 'free' };
    const results = await Promise.all([e.consume(who, { requests: 1 }), e.consume(who, { requests: 1 })]);
    expect(results.map((r) => r.admitted)).toEqual([false, false]);
    expect(calls.filter((c) => c === 'tenant:requests:day').length).toBe(1);
    expect((await e.status(who)).quotas.requests?.day?.used).toBe(5);
    expect(
      await store.seed({
        tag: `t:${who.tenantId}`,
        now: clock.now(),
        scopes: [{ scope: 'tenant', id: who.tenantId }],
        counters: [],
        overrides: [],
      }),
    ).toBe(false);
  });

  it("rebuilds each user cap inside a tenant on that user's first request after the store lost its data", async () => {
    const used: Record<string, number> = {
      'tenant:requests': 7,
      'user:alice:requests': 3,
      'user:bob:requests': 3,
    };
    const e = engine({
      used: async (q) =>
        q.period === 'day'
          ? (used[q.scope === 'tenant' ? `tenant:${q.meter}` : `user:${q.id}:${q.meter}`] ?? 0)
          : 0,
    });
    const tenantId = uniqueId('t');
    const alice = await e.consume({ tenantId, userId: 'alice', plan: 'capped' }, { requests: 1 });
    expect(alice.admitted).toBe(false);
    if (!alice.admitted)
      expect(alice.violation).toMatchObject({ scope: 'user', id: 'alice', used: 3, limit: 3 });
    // The tenant is seeded now; bob's cap must still come from the baseline, not start at 0.
    const bob = await e.consume({ tenantId, userId: 'bob', plan: 'capped' }, { requests: 1 });
    expect(bob.admitted).toBe(false);
    if (!bob.admitted) expect(bob.violation).toMatchObject({ scope: 'user', id: 'bob', used: 3 });
    const carol = await e.consume({ tenantId, userId: 'carol', plan: 'capped' }, { requests: 1 });
    expect(carol.admitted).toBe(true);
    expect((await e.status({ tenantId, userId: 'carol', plan: 'capped' })).quotas.requests?.day?.used).toBe(
      8,
    );
  });

  it("rebuilds a key's counters from the baseline on its first call after the store lost its data", async () => {
    const e = engine({
      used: async (q) => (q.period === 'day' && q.scope === 'key' && q.meter === 'requests' ? 2 : 0),
    });
    const tenantId = uniqueId('t');
    const r = await e.consume(
      { tenantId, userId: 'alice', plan: 'capped', apiKeyId: uniqueId('key') },
      { requests: 1 },
    );
    expect(r.admitted).toBe(false);
    if (!r.admitted) expect(r.violation).toMatchObject({ scope: 'key', used: 2, limit: 2 });
  });
}
