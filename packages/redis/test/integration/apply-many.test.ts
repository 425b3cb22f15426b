// RedisStore.applyMany on a real Redis: one script call for many shards' ops, each answered as `apply` would answer
// it alone, and an op the script refuses answered by its own error while the others apply.
import { QuotaEngine } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';
import { config, ownRedis, requestOp, scriptCalls } from './helpers';

const cfg = config({ plans: { free: { limits: { requests: { day: 3 } } } } });
// Its own Redis: script-call counts must not see other test files' calls.
const redis = ownRedis();

describe('RedisStore.applyMany', () => {
  const store = () =>
    new RedisStore({ client: redis.client(), prefix: `m${Math.random().toString(36).slice(2)}:` });

  it('answers each op as apply would, limits and op ids per shard, in one script call', async () => {
    const s = store();
    const engine = new QuotaEngine({ store: s, config: cfg });
    const ops = ['a', 'b', 'a', 'a', 'a', 'b'].map((t, i) => requestOp(engine, t, `op-${i}`));
    ops.push({ ...ops[1]!, now: Date.now() }); // op-1 again: a duplicate
    await s.applyMany([requestOp(engine, 'warm', 'warm')]); // loads the script, so the count below is one EVALSHA
    const before = await scriptCalls(redis.client());
    const results = await s.applyMany(ops);
    // The INFO call itself is not a script call.
    expect((await scriptCalls(redis.client())) - before).toBe(1);
    expect(results.map((r) => (r instanceof Error ? 'error' : r.status))).toEqual([
      'applied',
      'applied',
      'applied',
      'applied',
      'rejected',
      'applied',
      'duplicate',
    ]);
    const rejected = results[4]!;
    if (rejected instanceof Error || rejected.status !== 'rejected') throw new Error('expected a rejection');
    expect(rejected.violations).toMatchObject([
      { scope: 'tenant', id: 'a', meter: 'requests', limit: 3, used: 3 },
    ]);
    expect((await engine.status({ tenantId: 'a' })).quotas.requests?.day?.used).toBe(3);
    expect((await engine.status({ tenantId: 'b' })).quotas.requests?.day?.used).toBe(2);
  });

  it('answers an op the script refuses with its own error, and applies the others', async () => {
    const s = store();
    const engine = new QuotaEngine({ store: s, config: cfg });
    const results = await s.applyMany([
      requestOp(engine, 'a', 'x-1'),
      requestOp(engine, 'b', ''),
      requestOp(engine, 'a', 'x-2'),
    ]);
    expect(results[0]).toMatchObject({ status: 'applied' });
    expect(results[1]).toBeInstanceOf(Error);
    expect((results[1] as Error).message).toMatch(/op id \(ARGV\[1\]\) is empty/);
    expect(results[2]).toMatchObject({ status: 'applied' });
    expect((await engine.status({ tenantId: 'a' })).quotas.requests?.day?.used).toBe(2);
    expect((await engine.status({ tenantId: 'b' })).quotas.requests?.day?.used ?? 0).toBe(0);
  });
});
