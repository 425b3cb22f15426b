// A client with an ioredis `keyPrefix`: ioredis prefixes a script's declared keys only, not the keys of each op
// that travel in a many-call's arguments. Every applyMany of two ops or more, and every claim or ack of two shards
// or more, answered "KEYS[1] is not the first op's first key" (the ops' keys now carry the prefix too).
import { QuotaEngine } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';
import { config, ownRedis, ready, redisClient, requestOp, usageOp } from '../integration/helpers';

const cfg = config({ plans: { free: { limits: { requests: { day: 3 } } } } });
const redis = ownRedis();

describe('applyMany on a client with a keyPrefix', () => {
  it('applies each op as apply alone would, to the same keys', async () => {
    const url = `redis://127.0.0.1:${redis.client().options.port}`;
    const prefixed = await ready(redisClient(url, { keyPrefix: 'app1:' }));
    try {
      const store = new RedisStore({ client: prefixed, prefix: 'kp:' });
      const engine = new QuotaEngine({ store, config: cfg });
      const results = await store.applyMany([
        usageOp(engine, 'a', 'op-1'),
        usageOp(engine, 'b', 'op-2'),
        usageOp(engine, 'a', 'op-3'),
      ]);
      expect(results.map((r) => (r instanceof Error ? r.message : r.status))).toEqual([
        'applied',
        'applied',
        'applied',
      ]);
      // One op alone (apply) reads the counters the many-call wrote.
      await store.apply(requestOp(engine, 'a', 'op-4'));
      expect((await engine.status({ tenantId: 'a' })).quotas.requests?.day?.used).toBe(3);
      expect((await engine.status({ tenantId: 'b' })).quotas.requests?.day?.used).toBe(1);
      // The flusher's sweep of both shards: one claim and one ack call each, many.lua's packed form.
      const batches = await store.claim({ now: Date.now(), maxTags: 10, staleAfterMs: 60_000 });
      expect(batches.map((b) => b.usage.reduce((sum, u) => sum + u.amount, 0)).sort()).toEqual([1, 2]);
      await store.ack(batches);
      expect(await store.claim({ now: Date.now() + 120_000, maxTags: 10, staleAfterMs: 60_000 })).toEqual([]);
      // Every key the store wrote carries the client's prefix.
      const keys = await redis.client().keys('*');
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.filter((k) => !k.startsWith('app1:'))).toEqual([]);
    } finally {
      prefixed.disconnect();
    }
  });
});
