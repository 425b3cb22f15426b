// Redis loses everything (FLUSHALL) after a flush: the next admission is seeded from the ledger.
import { Redis } from 'ioredis';
import { QuotaEngine, parseConfig } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';
import { Flusher, LedgerBaseline, PgSqlClient, migrate, saveOverride } from '@tollgate/ledger';
import { createTestDatabase, OwnedRedis } from '../../../../test-support/services';

jest.setTimeout(30_000);

describe('Redis FLUSHALL after a flush', () => {
  let db: { url: string; drop: () => Promise<void> };
  let sql: PgSqlClient;
  let owned: OwnedRedis;
  let redis: Redis;

  beforeAll(async () => {
    db = await createTestDatabase('flusher_flushall');
    sql = new PgSqlClient({ pool: { connectionString: db.url, max: 4 } });
    await migrate(sql);
    owned = await OwnedRedis.start();
    redis = new Redis(owned.url, { enableAutoPipelining: true });
  });

  afterAll(async () => {
    redis.disconnect();
    await owned.destroy();
    await sql.close();
    await db.drop();
  });

  it('keeps a subject at its limit, with its override, once Redis has lost its data', async () => {
    const config = parseConfig({
      defaultPlan: 'free',
      plans: { free: { limits: { requests: { day: 5, month: 50 }, tokens: { day: 10_000 } } } },
      userLimits: { free: { requests: { day: 4 } } },
      pricing: { 'demo-model': { input: '1.00', output: '2.00' } },
    });
    const store = new RedisStore({ client: redis });
    const engine = new QuotaEngine({ store, config, baseline: new LedgerBaseline(sql) });
    const alice = { tenantId: 'acme', userId: 'alice', plan: 'free' };
    const bob = { tenantId: 'acme', userId: 'bob', plan: 'free' };
    for (let i = 0; i < 4; i++) expect((await engine.consume(alice, { requests: 1 })).admitted).toBe(true);
    expect((await engine.consume(alice, { requests: 1 })).admitted).toBe(false); // her cap of 4
    expect((await engine.consume(bob, { requests: 1 })).admitted).toBe(true); // the tenant's 5th
    await engine.record(alice, [{ meter: 'input_tokens', amount: 1500, model: 'demo-model' }]);
    await engine.setOverride({ scope: 'tenant', id: 'acme' }, 'tokens', 'day', 1600);
    await saveOverride(sql, { scope: 'tenant', id: 'acme', meter: 'tokens', period: 'day', limit: 1600 });
    await new Flusher({ store, sql }).flushOnce();

    await redis.flushall();

    // Alice's next admission rebuilds the shard from the ledger: her cap (4) and the tenant's 5 are back.
    const again = await engine.consume(alice, { requests: 1 });
    expect(again.admitted).toBe(false);
    if (!again.admitted) expect(again.violation).toMatchObject({ meter: 'requests', period: 'day' });
    const status = await engine.status(alice);
    expect(status.quotas.requests?.day).toMatchObject({ used: 5, limit: 5, remaining: 0 });
    expect(status.quotas.requests?.month).toMatchObject({ used: 5, limit: 50 });
    expect(status.userQuotas.requests?.day).toMatchObject({ used: 4, limit: 4 });
    expect(status.quotas.tokens?.day).toMatchObject({ used: 1500, limit: 1600 });
    expect(await engine.check(alice, 'tokens', 101)).toEqual({ allowed: false, remaining: 100 });
    // Bob shares the tenant's counters: still at the limit.
    const bobAgain = await engine.consume(bob, { requests: 1 });
    expect(bobAgain.admitted).toBe(false);
    if (!bobAgain.admitted)
      expect(bobAgain.violation).toMatchObject({
        scope: 'tenant',
        meter: 'requests',
        period: 'day',
        used: 5,
        limit: 5,
      });
  });
});
