import { randomUUID } from 'node:crypto';
import { MemoryStore, QuotaEngine, type ApplyOp, type CounterStore } from '@tollgate/core';
import { currentWindows, hourBucket } from '@tollgate/core/internal';
import type Redis from 'ioredis';
import { RedisStore } from '@tollgate/redis';
import { REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { config, deleteKeys, ready, redisClient, scanKeys } from './helpers';

const prefix = uniquePrefix('redis-behaviour');
let client: Redis;
let store: RedisStore;

beforeAll(async () => {
  client = await ready(redisClient(REDIS_URL));
  store = new RedisStore({ client, prefix });
});
afterAll(async () => {
  await deleteKeys(client, prefix);
  await client.quit();
});

const cfg = config({
  warnAt: [50],
  plans: {
    free: { limits: { requests: { day: 500 }, tokens: { day: 5000 } } },
    team: { limits: { requests: { day: 10 } } },
  },
  userLimits: { team: { requests: { day: 3 } } },
});

function tenant(): string {
  return `acme-${randomUUID()}`;
}

describe('RedisStore on a single Redis', () => {
  it('admits exactly 500 of 2000 consumes fired concurrently from 4 separate clients', async () => {
    const clients = await Promise.all(Array.from({ length: 4 }, () => ready(redisClient(REDIS_URL))));
    try {
      const engines = clients.map(
        (c) => new QuotaEngine({ store: new RedisStore({ client: c, prefix }), config: cfg }),
      );
      const who = { tenantId: tenant() };
      const results = await Promise.all(
        Array.from({ length: 2000 }, (_, i) => engines[i % 4]!.consume(who, { requests: 1 })),
      );
      expect(results.filter((r) => r.admitted).length).toBe(500);
      // The 50 % threshold is reported exactly once across the four instances.
      expect(results.flatMap((r) => (r.admitted ? r.thresholds : [])).map((t) => t.threshold)).toEqual([50]);
      expect((await engines[0]!.status(who)).quotas.requests?.day?.used).toBe(500);
    } finally {
      await Promise.all(clients.map((c) => c.quit()));
    }
  });

  it('enforces a user cap and the tenant limit together; a rejection by one consumes nothing on the other', async () => {
    const engine = new QuotaEngine({ store, config: cfg });
    const tenantId = tenant();
    const as = (userId: string) => ({ tenantId, userId, plan: 'team' });
    for (let i = 0; i < 3; i++)
      expect((await engine.consume(as('alice'), { requests: 1 })).admitted).toBe(true);
    const capped = await engine.consume(as('alice'), { requests: 1 });
    expect(capped).toMatchObject({
      admitted: false,
      violation: { scope: 'user', id: 'alice', limit: 3, used: 3 },
    });
    expect((await engine.status(as('alice'))).quotas.requests?.day?.used).toBe(3);
    for (const user of ['bob', 'bob', 'bob', 'carol', 'carol', 'carol', 'dave'])
      expect((await engine.consume(as(user), { requests: 1 })).admitted).toBe(true);
    // The tenant is at 10; erin has room in her cap but the tenant has none, and her cap stays untouched.
    const full = await engine.consume(as('erin'), { requests: 1 });
    expect(full).toMatchObject({ admitted: false, violation: { scope: 'tenant', limit: 10, used: 10 } });
    const erin = await engine.status(as('erin'));
    expect(erin.quotas.requests?.day?.used).toBe(10);
    expect(erin.userQuotas.requests?.day?.used).toBe(0);
  });

  it('admits 5 of 10 concurrent reservations of 1000 against 5000, and settle/release give back the difference', async () => {
    const engine = new QuotaEngine({ store, config: cfg });
    const who = { tenantId: tenant() };
    const admissions = await Promise.all(
      Array.from({ length: 10 }, () => engine.consume(who, {}, { reserve: { tokens: 1000 } })),
    );
    const ids = admissions.flatMap((a) => (a.admitted && a.reservationId ? [a.reservationId] : []));
    expect(ids.length).toBe(5);
    const used = async () => (await engine.status(who)).quotas.tokens?.day?.used;
    expect(await used()).toBe(5000);
    await engine.settle(who, ids[0]!, [{ meter: 'output_tokens', amount: 321 }]);
    expect(await used()).toBe(4321);
    await engine.release(who, ids[1]!);
    expect(await used()).toBe(3321);
    await engine.settle(who, ids[2]!, [{ meter: 'input_tokens', amount: 1700 }]);
    expect(await used()).toBe(4021);
    // Settling the same reservation twice gives nothing back the second time.
    await engine.release(who, ids[0]!);
    expect(await used()).toBe(4021);
  });

  it('counts an operation applied twice with the same id once, in the counters and in the unflushed usage', async () => {
    const tenantId = tenant();
    const now = Date.now();
    const op: ApplyOp = {
      opId: 'same-op',
      tag: `t:${tenantId}`,
      now,
      mode: 'enforce',
      scopes: [{ scope: 'tenant', id: tenantId }],
      windows: currentWindows(now),
      limits: [{ scope: 'tenant', id: tenantId, meter: 'requests', period: 'day', limit: 500 }],
      amounts: [{ meter: 'requests', amount: 1 }],
      usage: [
        {
          tenantId,
          userId: null,
          meter: 'requests',
          model: null,
          bucketStart: hourBucket(now),
          amount: 1,
          costPico: '0',
        },
      ],
      warnAt: [],
      seed: 'auto',
    };
    expect((await store.apply(op)).status).toBe('applied');
    expect(await store.apply(op)).toEqual({ status: 'duplicate', outcome: 'applied' });
    expect(await store.apply({ ...op, now: now + 1000 })).toEqual({
      status: 'duplicate',
      outcome: 'applied',
    });
    const batches = (await store.claim({ now, maxTags: 10_000, staleAfterMs: 60_000 })).filter(
      (b) => b.tag === op.tag,
    );
    expect(batches.flatMap((b) => b.usage)).toEqual([
      expect.objectContaining({ meter: 'requests', amount: 1 }),
    ]);
    await store.ack(batches);
  });

  it('keeps unflushed cost exact beyond 2^53 pico-dollars', async () => {
    const tenantId = tenant();
    const now = Date.now();
    const delta = {
      tenantId,
      userId: null,
      meter: 'input_tokens',
      model: 'big-model',
      bucketStart: hourBucket(now),
      amount: 1,
      costPico: '9007199254740993',
    };
    for (let i = 0; i < 3; i++) {
      await store.apply({
        opId: randomUUID(),
        tag: `t:${tenantId}`,
        now,
        mode: 'record',
        scopes: [{ scope: 'tenant', id: tenantId }],
        windows: currentWindows(now),
        limits: [],
        amounts: [],
        usage: [delta],
        warnAt: [],
        seed: 'auto',
      });
    }
    const batches = (await store.claim({ now, maxTags: 10_000, staleAfterMs: 60_000 })).filter(
      (b) => b.tag === `t:${tenantId}`,
    );
    expect(batches.flatMap((b) => b.usage)).toEqual([{ ...delta, amount: 3, costPico: '27021597764222979' }]);
    await store.ack(batches);
  });

  it.each([
    ['RedisStore', () => store],
    ['MemoryStore', () => new MemoryStore()],
  ] as Array<[string, () => CounterStore]>)(
    'enforces a cost budget above $9007 (2^53 pico-dollars) on %s, in config and in an override',
    async (_name, storeOf) => {
      const big = config({
        plans: { enterprise: { limits: { cost: { month: '10000.00' } } } },
        pricing: { 'gpt-4o': { input: '2.50', output: '10.00' } },
      });
      const engine = new QuotaEngine({ store: storeOf(), config: big });
      const who = { tenantId: tenant(), plan: 'enterprise' };
      // $9000 held, then $1000.01 more does not fit and $1000 does.
      const pico = (usd: number) => usd * 1e12;
      const first = await engine.consume(who, {}, { reserve: { cost: pico(9000) } });
      expect(first.admitted).toBe(true);
      const over = await engine.consume(who, {}, { reserve: { cost: pico(1000.01) } });
      expect(over.admitted).toBe(false);
      expect((await engine.consume(who, {}, { reserve: { cost: pico(1000) } })).admitted).toBe(true);
      expect((await engine.status(who)).quotas.cost?.month).toMatchObject({
        limit: '10000.000000',
        used: '10000.000000',
      });
      // An override past 2^53 pico-dollars too.
      await engine.setOverride({ scope: 'tenant', id: who.tenantId }, 'cost', 'month', pico(20000));
      expect((await engine.consume(who, {}, { reserve: { cost: pico(9000) } })).admitted).toBe(true);
      expect((await engine.status(who)).quotas.cost?.month?.limit).toBe('20000.000000');
    },
  );

  it('lays out keys as documented: windowed counters expire after their window, total counters and markers never', async () => {
    const engine = new QuotaEngine({ store, config: cfg });
    const tenantId = tenant();
    await engine.consume({ tenantId }, { requests: 1 });
    await engine.setOverride({ scope: 'tenant', id: tenantId }, 'requests', 'total', 1000);
    await engine.consume({ tenantId }, { requests: 1 });
    const base = `${prefix}{t:${tenantId}}`;
    const day = currentWindows(Date.now()).find((w) => w.period === 'day')!;
    const dayKey = `${base}:c:tenant:${tenantId}:requests:day:${day.key}`;
    expect(await client.get(dayKey)).toBe('2');
    expect(await client.pexpiretime(dayKey)).toBe(day.expiresAt);
    const totalKey = `${base}:c:tenant:${tenantId}:requests:total:0`;
    expect(await client.get(totalKey)).toBe('1');
    expect(await client.pttl(totalKey)).toBe(-1);
    expect(await client.hgetall(`${base}:scopes`)).toEqual({ [`tenant:${tenantId}`]: '1' });
    expect(await client.pttl(`${base}:scopes`)).toBe(-1);
    expect(await client.hgetall(`${base}:ov`)).toEqual({ [`tenant:${tenantId}:requests:total`]: '1000' });
    const opKeys = await scanKeys(client, `${base}:o:*`);
    expect(opKeys.length).toBe(1);
    expect(await client.pttl(opKeys[0]!)).toBeGreaterThan(0);
    expect(await client.zscore(`${prefix}q`, `d:t:${tenantId}`)).not.toBeNull();
  });
});
