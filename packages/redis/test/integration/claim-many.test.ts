// The flusher's sweep of many shards on a single node: RedisStore.claim and ack take them in a few script calls
// (many.lua, at most 64 shards each), not one per shard, and hand out and forget exactly what one call per shard did.
import { QuotaEngine } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';
import { config, ownRedis, scriptCalls, usageOp } from './helpers';

const cfg = config({ plans: { free: { limits: { requests: { day: 100 } } } } });
// Its own Redis: script-call counts must not see other test files' calls.
const redis = ownRedis();

const tagOf = (engine: QuotaEngine, tenantId: string) => engine.resolve({ tenantId }).tag;

const requestsOf = (usage: ReadonlyArray<{ meter: string; amount: number }>) =>
  usage.filter((u) => u.meter === 'requests').reduce((sum, u) => sum + u.amount, 0);

describe('RedisStore claim and ack of many shards', () => {
  const store = () =>
    new RedisStore({ client: redis.client(), prefix: `c${Math.random().toString(36).slice(2)}:` });

  it('claims 70 shards in two script calls and acknowledges them in two, each shard its own batch', async () => {
    const s = store();
    const engine = new QuotaEngine({ store: s, config: cfg });
    const tenants = Array.from({ length: 70 }, (_, i) => `t${i}`);
    for (const [i, t] of tenants.entries()) {
      // Tenant i makes i % 3 + 1 requests.
      for (let n = 0; n <= i % 3; n++) await s.apply(usageOp(engine, t, `op-${t}-${n}`));
    }
    // Loads both many-scripts, so the counts below are EVALSHA calls only.
    await s.ack(await s.claim({ now: Date.now(), maxTags: 2, staleAfterMs: 60_000 }));
    const now = Date.now() + 1000;
    const before = await scriptCalls(redis.client());
    const batches = await s.claim({ now, maxTags: 500, staleAfterMs: 60_000 });
    expect((await scriptCalls(redis.client())) - before).toBe(2);
    const byTag = new Map(batches.map((b) => [b.tag, b]));
    expect(byTag.size).toBe(68);
    for (const [i, t] of tenants.entries()) {
      const b = byTag.get(tagOf(engine, t));
      if (i < 2 && b === undefined) continue; // claimed and acknowledged by the warm-up above
      expect(b && requestsOf(b.usage)).toBe((i % 3) + 1);
    }
    const beforeAck = await scriptCalls(redis.client());
    await s.ack(batches);
    expect((await scriptCalls(redis.client())) - beforeAck).toBe(2);
    expect(await s.claim({ now: now + 120_000, maxTags: 500, staleAfterMs: 60_000 })).toEqual([]);
  });

  it('fails the whole claim when one shard cannot be claimed, and hands every batch out again once stale', async () => {
    const s = store();
    const engine = new QuotaEngine({ store: s, config: cfg });
    for (const t of ['a', 'b', 'c']) await s.apply(usageOp(engine, t, `op-${t}`));
    // A claims hash of the wrong type: that shard's claim raises a Redis error.
    await redis.client().set(s.keys(tagOf(engine, 'b')).claims, 'not a hash');
    const now = Date.now();
    await expect(s.claim({ now, maxTags: 500, staleAfterMs: 60_000 })).rejects.toThrow(/WRONGTYPE/);
    await redis.client().del(s.keys(tagOf(engine, 'b')).claims);
    const again = await s.claim({ now: now + 61_000, maxTags: 500, staleAfterMs: 60_000 });
    expect(again.map((b) => requestsOf(b.usage))).toEqual([1, 1, 1]);
  });
});
