// RedisStore.applyMany on a real Redis: one script call for many shards' ops, each answered as `apply` would answer
// it alone, and an op the script refuses answered by its own error while the others apply.
import { QuotaEngine } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';
import { packCalls } from '@tollgate/redis/internal';
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

  it('carries ids that are not ASCII through the packed call exactly (tags, scopes and op ids)', async () => {
    const s = store();
    const engine = new QuotaEngine({ store: s, config: cfg });
    const tenants = ['é', 'Ünïcødé-テナント', '😀', 'x'.repeat(40) + '€'];
    const ops = tenants.flatMap((t) => [
      requestOp(engine, t, `op-${t}-1`),
      requestOp(engine, t, `op-${t}-2`),
    ]);
    ops.push({ ...ops[0]!, now: Date.now() }); // the first op id again, not ASCII: found as a duplicate
    const results = await s.applyMany(ops);
    expect(results.map((r) => (r instanceof Error ? r.message : r.status))).toEqual([
      ...tenants.flatMap(() => ['applied', 'applied']),
      'duplicate',
    ]);
    for (const t of tenants) {
      expect((await engine.status({ tenantId: t })).quotas.requests?.day?.used).toBe(2);
    }
  });

  it('answers packed ops it cannot read with an error, writing nothing', async () => {
    const client = redis.client();
    const s = store();
    const engine = new QuotaEngine({ store: s, config: cfg });
    await s.applyMany([requestOp(engine, 'warm', 'w-1'), requestOp(engine, 'warm', 'w-2')]); // registers the scripts
    const key = 'some{tag}';
    const good = packCalls([[key, 'q', 'arg']], 2);
    const cases: Array<[string, Array<string | Buffer>]> = [
      ['garbage', [key, Buffer.from([0xc1, 0x00])]],
      ['truncated', [key, good.subarray(0, good.length - 1)]],
      ['two values', [key, Buffer.concat([good, good])]],
      ['an empty array', [key, Buffer.from([0x90])]],
      ['a map', [key, Buffer.from([0x81, 0xa1, 0x61, 0xa1, 0x62])]],
      ['too few keys', [key, packCalls([[key, 'a']], 1)]],
      ['a number among the values', [key, Buffer.from([0x91, 0x92, 0x92, 0xa1, 0x6b, 0x01, 0x90])]],
      ['another first key', ['other{tag}', good]],
      ['two arguments', [key, good, 'more']],
    ];
    const before = await client.dbsize();
    for (const [what, args] of cases) {
      await expect(client.tollgateApplyMany(...args)).rejects.toThrow(/tollgate apply-many: bad arguments/);
      expect({ what, keys: await client.dbsize() }).toEqual({ what, keys: before });
    }
    expect(await client.ping()).toBe('PONG');
  });
});
