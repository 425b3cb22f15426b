// One op of an applyMany call whose run raises a Redis error (here a shard key of the wrong type) aborted the whole
// script: the ops before it stayed applied, yet every op of the call was answered with that error, so their callers
// took applied units for failed ones (refused a request that was counted, or replayed it). Each op is now answered
// by its own reply.
import { QuotaEngine } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';
import { config, ownRedis, requestOp } from '../integration/helpers';

const cfg = config({ plans: { free: { limits: { requests: { day: 3 } } } } });
// Its own Redis: script-call counts must not see other test files' calls.
const redis = ownRedis();

it('answers the op whose run raised with its error and the others with their own replies', async () => {
  const prefix = `r${Math.random().toString(36).slice(2)}:`;
  const store = new RedisStore({ client: redis.client(), prefix });
  const engine = new QuotaEngine({ store, config: cfg });
  // The poisoned shard's set of seeded scopes is a string: the script's first read of it raises WRONGTYPE.
  await redis.client().set(`${prefix}{${engine.resolve({ tenantId: 'poison' }).tag}}:scopes`, 'not a hash');
  const results = await store.applyMany([
    requestOp(engine, 'a', 'p-1'),
    requestOp(engine, 'poison', 'p-2'),
    requestOp(engine, 'b', 'p-3'),
  ]);
  expect(results[0]).toMatchObject({ status: 'applied' });
  expect(results[1]).toBeInstanceOf(Error);
  expect((results[1] as Error).message).toMatch(/WRONGTYPE/);
  expect(results[2]).toMatchObject({ status: 'applied' });
  expect((await engine.status({ tenantId: 'a' })).quotas.requests?.day?.used).toBe(1);
  expect((await engine.status({ tenantId: 'b' })).quotas.requests?.day?.used).toBe(1);
});
