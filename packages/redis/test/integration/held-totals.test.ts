// The held total beside each counter (`<counter>:h`, what reservations hold, which thresholds leave out) lives only
// as long as the reservations on it, so one left wrong heals: the case is a rolling upgrade, where an instance
// still running the previous script settles a reservation without touching the total.
import type Redis from 'ioredis';
import { QuotaEngine } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';
import { REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { config, deleteKeys, ready, redisClient, scanKeys } from './helpers';

const prefix = uniquePrefix('redis-held');
let client: Redis;

beforeAll(async () => {
  client = await ready(redisClient(REDIS_URL));
});
afterAll(async () => {
  await deleteKeys(client, prefix);
  await client.quit();
});

// The previous script's settlement: undoes the reservation on its counters and forgets it, held total untouched.
const PREVIOUS_SETTLE = `
local packed = redis.call('HGET', KEYS[1], ARGV[1])
local items = cmsgpack.unpack(packed)
for i = 1, #items, 2 do redis.call('DECRBY', items[i], items[i + 1]) end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
for i = 1, #items, 2 do redis.call('INCRBY', items[i], ARGV[2]) end
return #items
`;

async function heldKeys(tenantId: string): Promise<string[]> {
  return scanKeys(client, `${prefix}*${tenantId}*:tokens:month:*:h`);
}

function engine(): QuotaEngine {
  const store = new RedisStore({ client, prefix });
  const cfg = config({ warnAt: [50, 100], plans: { llm: { limits: { tokens: { month: 10_000 } } } } });
  return new QuotaEngine({ store, config: cfg });
}

describe('held totals', () => {
  it('last as long as the longest reservation on the counter (plus 5 s), not the whole window', async () => {
    const e = engine();
    const who = { tenantId: `held-ttl-${Date.now()}`, plan: 'llm' };
    await e.consume(who, {}, { reserve: { tokens: 100 }, reservationTtlMs: 20_000 });
    const [key] = await heldKeys(who.tenantId);
    expect(await client.get(key!)).toBe('100');
    const ttl = await client.pttl(key!);
    expect(ttl).toBeGreaterThan(20_000);
    expect(ttl).toBeLessThanOrEqual(25_000);
    // A shorter reservation does not shorten it; a longer one lengthens it.
    await e.consume(who, {}, { reserve: { tokens: 100 }, reservationTtlMs: 1_000 });
    expect(await client.pttl(key!)).toBeGreaterThan(19_000);
    await e.consume(who, {}, { reserve: { tokens: 100 }, reservationTtlMs: 60_000 });
    expect(await client.pttl(key!)).toBeGreaterThan(60_000);
    expect(await client.get(key!)).toBe('300');
  });

  it('heals once its reservations have expired when a previous script version settled one', async () => {
    const e = engine();
    const who = { tenantId: `held-heal-${Date.now()}`, plan: 'llm' };
    const a = await e.consume(who, {}, { reserve: { tokens: 6000 }, reservationTtlMs: 1_000 });
    if (!a.admitted) throw new Error('expected an admission');
    const subject = e.resolve(who);
    const base = new RedisStore({ client, prefix }).keys(subject.tag);
    // Settled at 1000 by the previous version: the counter is right (1000), the held total still says 6000.
    await client.eval(
      PREVIOUS_SETTLE,
      2,
      base.reservations,
      base.reservationExpiry,
      a.reservationId!,
      '1000',
    );
    expect((await e.status(who)).quotas.tokens?.month?.used).toBe(1000);
    const [key] = await heldKeys(who.tenantId);
    expect(await client.get(key!)).toBe('6000');
    // Within the reservation's life plus 5 s the total is gone, and thresholds count the usage again.
    const deadline = Date.now() + 15_000;
    while ((await client.exists(key!)) === 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(await client.exists(key!)).toBe(0);
    const r = await e.record(who, [{ meter: 'tokens', amount: 4000 }]);
    expect(r.thresholds.map((t) => [t.threshold, t.used])).toEqual([[50, 5000]]);
  });
});
