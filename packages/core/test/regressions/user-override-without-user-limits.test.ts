// Regression: a user's override inside a tenant (PUT /admin/quotas/user/:id with tenantId) was kept by the store
// but never enforced when the user's plan had no `userLimits`: admission only looked at the user's scope when the
// plan capped users, so the override sat in the tenant's shard unread. Also under `subject: user`, where a user's
// override given a tenantId went to the tenant's shard while the user's requests use the user's own.
import Redis from 'ioredis';
import { RedisStore } from '@tollgate/redis';
import {
  MemoryStore,
  QuotaEngine,
  parseConfig,
  type BaselineSource,
  type CounterStore,
  type OverrideEntry,
  type TollgateConfigInput,
} from '../../src';
import { REDIS_URL, uniquePrefix } from '../../../../test-support/services';

const base: TollgateConfigInput = {
  subject: 'tenant',
  plans: { free: { limits: { requests: { day: 100 }, tokens: { day: 10_000 } } } },
};

interface StoreKind {
  name: string;
  create: () => CounterStore;
}

let redis: Redis;
beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: true });
});
afterAll(() => redis.quit());

const kinds: StoreKind[] = [
  { name: 'MemoryStore', create: () => new MemoryStore() },
  {
    name: 'RedisStore',
    create: () => new RedisStore({ client: redis, prefix: uniquePrefix('user-override') }),
  },
];

async function admitted(engine: QuotaEngine, who: object, n: number): Promise<boolean[]> {
  const out: boolean[] = [];
  for (let i = 0; i < n; i++) out.push((await engine.consume(who, { requests: 1 })).admitted);
  return out;
}

describe.each(kinds)('a user override inside a tenant, plan without userLimits ($name)', (kind) => {
  let store: CounterStore;
  beforeEach(() => {
    store = kind.create();
  });
  afterEach(() => store.close());

  it('is enforced on that user only, and status() shows it in userQuotas', async () => {
    const engine = new QuotaEngine({ store, config: parseConfig(base) });
    await engine.setOverride({ scope: 'user', id: 'alice', tenantId: 'acme' }, 'requests', 'day', 2);
    const alice = { tenantId: 'acme', userId: 'alice' };
    expect(await admitted(engine, alice, 3)).toEqual([true, true, false]);
    const refused = await engine.consume(alice, { requests: 1 });
    expect(refused).toMatchObject({
      admitted: false,
      violation: { scope: 'user', id: 'alice', meter: 'requests', period: 'day', limit: 2, used: 2 },
    });
    // Another user of the tenant, and alice in another tenant, are not capped.
    expect(await admitted(engine, { tenantId: 'acme', userId: 'bob' }, 3)).toEqual([true, true, true]);
    expect(await admitted(engine, { tenantId: 'other', userId: 'alice' }, 3)).toEqual([true, true, true]);

    const status = await engine.status(alice);
    expect(status.userQuotas.requests?.day).toMatchObject({
      limit: 2,
      used: 2,
      remaining: 0,
      percentage: 100,
    });
    expect(status.quotas.requests?.day).toMatchObject({ limit: 100, used: 5 });
    expect(status.anyExceeded).toBe(true);
    await expect(engine.check(alice, 'requests', 1)).resolves.toEqual({ allowed: false, remaining: 0 });
    expect((await engine.status({ tenantId: 'acme', userId: 'bob' })).userQuotas).toEqual({});
  });

  it('a removed override (null) caps the user no more', async () => {
    const engine = new QuotaEngine({ store, config: parseConfig(base) });
    const alice = { tenantId: 'acme', userId: 'alice' };
    await engine.setOverride({ scope: 'user', id: 'alice', tenantId: 'acme' }, 'requests', 'day', 1);
    expect(await admitted(engine, alice, 2)).toEqual([true, false]);
    await engine.setOverride({ scope: 'user', id: 'alice', tenantId: 'acme' }, 'requests', 'day', null);
    expect(await admitted(engine, alice, 2)).toEqual([true, true]);
  });

  it('a lost store restores the override from the baseline source', async () => {
    const kept: OverrideEntry[] = [{ scope: 'user', id: 'alice', meter: 'tokens', period: 'day', limit: 50 }];
    const baseline: BaselineSource = {
      used: async () => 0,
      overrides: async (scopes) =>
        kept.filter((o) => scopes.some((s) => s.scope === o.scope && s.id === o.id)),
    };
    const engine = new QuotaEngine({ store, config: parseConfig(base), baseline });
    const alice = { tenantId: 'acme', userId: 'alice' };
    expect((await engine.consume(alice, { requests: 1, tokens: 50 })).admitted).toBe(true);
    expect(await engine.consume(alice, { requests: 1, tokens: 1 })).toMatchObject({
      admitted: false,
      violation: { scope: 'user', id: 'alice', meter: 'tokens', limit: 50 },
    });
  });

  it('under subject: user, an override given a tenantId is enforced on the user', async () => {
    const engine = new QuotaEngine({ store, config: parseConfig({ ...base, subject: 'user' }) });
    await engine.setOverride({ scope: 'user', id: 'carol', tenantId: 'acme' }, 'requests', 'day', 1);
    expect(await admitted(engine, { tenantId: 'acme', userId: 'carol' }, 2)).toEqual([true, false]);
    expect((await engine.status({ tenantId: 'acme', userId: 'carol' })).quotas.requests?.day).toMatchObject({
      limit: 1,
      used: 1,
    });
  });
});
