// The lean apply form: RedisStore sends only the counter groups with a plan limit (an op of unlimited meters sends no
// counters), unless it knows the shard has overrides. An override it does not know of (set by another process)
// makes the script refuse the lean op before any write; the op goes again whole and the override holds.
import { QuotaEngine, type ApplyOp } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';
import { APPLY, encodeApply, ShardKeys } from '@tollgate/redis/internal';
import { config, opOf, ownRedis, scanKeys, scriptCalls } from './helpers';

// requests limited per day for the tenant; latency_ms and bytes_out unlimited (what the gateway records per response).
const cfg = config({ plans: { free: { limits: { requests: { day: 100 } } } } });
// Its own Redis: script-call counts must not see other test files' calls.
const redis = ownRedis();

const prefix = () => `lean${Math.random().toString(36).slice(2)}:`;

/** An op of `tenantId` (user u1) adding `amounts` (enforce mode), keeping one usage delta per meter for the ledger. */
function op(engine: QuotaEngine, tenantId: string, opId: string, amounts: Record<string, number>): ApplyOp {
  const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  const list = Object.entries(amounts).map(([meter, amount]) => ({ meter, amount }));
  return opOf(engine, { tenantId, userId: 'u1' }, opId, list, {
    usage: list.map(({ meter, amount }) => ({
      tenantId,
      userId: 'u1',
      meter,
      model: null,
      bucketStart: hour,
      amount,
      costPico: '0',
    })),
  });
}

describe('RedisStore lean apply ops', () => {
  it('sends only the groups and windows with a plan limit: none at all for unlimited meters', () => {
    const engine = new QuotaEngine({
      store: new RedisStore({ client: redis.client(), prefix: prefix() }),
      config: cfg,
    });
    const keys = new ShardKeys('p:', 't:acme');
    const unlimited = op(engine, 'acme', 'op-1', { latency_ms: 12, bytes_out: 300 });
    const lean = encodeApply(unlimited, keys, 'p:q', 60_000, true);
    const whole = encodeApply(unlimited, keys, 'p:q', 60_000, false);
    expect(lean.args[APPLY.at.groupsSent]).toBe('p');
    expect(whole.args[APPLY.at.groupsSent]).toBe('');
    // tenant and user x 2 meters x 5 windows: 20 candidates whole, none lean (and no windows sent for them).
    expect(whole.candidates.length).toBe(20);
    expect(lean.candidates.length).toBe(0);
    expect(whole.args.length - lean.args.length).toBe(15 + 4 * (1 + 2 + 5));
    // requests: only the tenant's group has a limit, only in its day window: one candidate, the whole form's third.
    const limited = encodeApply(op(engine, 'acme', 'op-2', { requests: 1 }), keys, 'p:q', 60_000, true);
    expect(limited.candidates.length).toBe(1);
    expect(limited.candidates.at(0)).toEqual(
      encodeApply(op(engine, 'acme', 'op-2', { requests: 1 }), keys, 'p:q', 60_000, false).candidates.at(2),
    );
    expect(limited.candidates.at(0).window.period).toBe('day');
  });

  it('writes no counter for unlimited meters and keeps their usage for the ledger', async () => {
    const p = prefix();
    const s = new RedisStore({ client: redis.client(), prefix: p });
    const engine = new QuotaEngine({ store: s, config: cfg });
    for (let i = 0; i < 3; i++) {
      const r = await s.apply(op(engine, 'acme', `op-${i}`, { requests: 1, latency_ms: 10 + i }));
      expect(r.status).toBe('applied');
      if (r.status === 'applied') {
        expect(r.counters.map((c) => [c.scope, c.meter, c.period, c.used])).toEqual([
          ['tenant', 'requests', 'day', i + 1],
        ]);
      }
    }
    const counters = await scanKeys(redis.client(), `${p}*:c:*`);
    expect(counters.some((k) => k.includes('latency_ms'))).toBe(false);
    const [batch] = await s.claim({ now: Date.now(), maxTags: 10, staleAfterMs: 60_000 });
    const sum = (meter: string) =>
      batch!.usage.filter((u) => u.meter === meter).reduce((n, u) => n + u.amount, 0);
    expect([sum('requests'), sum('latency_ms')]).toEqual([3, 33]);
  });

  it('asks for seeding before an op touching no counter, and then skips the reservation sweep for it', async () => {
    const p = prefix();
    const s = new RedisStore({ client: redis.client(), prefix: p });
    const engine = new QuotaEngine({ store: s, config: cfg });
    const required = (o: ApplyOp): ApplyOp => ({ ...o, seed: 'required' });
    // Seeding restores overrides from the ledger, which may limit what the op records: asked for first.
    expect((await s.apply(required(op(engine, 'fresh', 'op-1', { latency_ms: 9 })))).status).toBe(
      'needs-seed',
    );
    expect((await s.apply(op(engine, 'fresh', 'op-2', { requests: 1 }))).status).toBe('applied');
    const sweeps = async () => {
      const info = await redis.client().info('commandstats');
      return Number(/cmdstat_zrangebyscore:calls=(\d+)/.exec(info)?.[1] ?? 0);
    };
    const before = await sweeps();
    expect((await s.apply(required(op(engine, 'fresh', 'op-3', { latency_ms: 9 })))).status).toBe('applied');
    expect(await sweeps()).toBe(before);
    expect((await s.apply(required(op(engine, 'fresh', 'op-4', { requests: 1 })))).status).toBe('applied');
    expect(await sweeps()).toBe(before + 1);
  });

  it("keeps a counter's window expiry, set once when the counter is created", async () => {
    const p = prefix();
    const s = new RedisStore({ client: redis.client(), prefix: p });
    const engine = new QuotaEngine({ store: s, config: cfg });
    for (let i = 0; i < 3; i++) await s.apply(op(engine, 'ttl', `op-${i}`, { requests: 1 }));
    const [key] = await scanKeys(redis.client(), `${p}*:c:tenant:ttl:requests:day:*`);
    const window = engine.windowsAt(Date.now()).find((w) => w.period === 'day')!;
    expect(await redis.client().get(key!)).toBe('3');
    expect(await redis.client().pexpiretime(key!)).toBe(window.expiresAt);
  });

  it('enforces an override it did not set: the lean op is refused unwritten, sent whole, and the shard remembered', async () => {
    const p = prefix();
    const s = new RedisStore({ client: redis.client(), prefix: p });
    // Another process (a second gateway, the admin API) caps this tenant's latency_ms: 25 a day.
    const other = new RedisStore({ client: redis.client(), prefix: p });
    const engine = new QuotaEngine({ store: s, config: cfg });
    const tag = engine.resolve({ tenantId: 'acme' }).tag;
    expect((await s.apply(op(engine, 'acme', 'warm', { requests: 1 }))).status).toBe('applied');
    await other.setOverride(tag, {
      scope: 'tenant',
      id: 'acme',
      meter: 'latency_ms',
      period: 'day',
      limit: 25,
    });

    const before = await scriptCalls(redis.client());
    const first = await s.apply(op(engine, 'acme', 'op-1', { latency_ms: 20 }));
    // Two calls: the lean op (refused: the shard has overrides), then the whole one.
    expect((await scriptCalls(redis.client())) - before).toBe(2);
    expect(first.status).toBe('applied');
    const second = await s.apply(op(engine, 'acme', 'op-2', { latency_ms: 20 }));
    expect((await scriptCalls(redis.client())) - before).toBe(3);
    expect(second.status).toBe('rejected');
    if (second.status === 'rejected') {
      expect(second.violations.map((v) => [v.meter, v.limit, v.used])).toEqual([['latency_ms', 25, 20]]);
    }
    // The refused lean attempt wrote nothing: op-1 counted once, its id remembered once.
    const [batch] = await s.claim({ now: Date.now(), maxTags: 10, staleAfterMs: 60_000 });
    expect(batch!.usage.filter((u) => u.meter === 'latency_ms').reduce((n, u) => n + u.amount, 0)).toBe(20);
    expect((await s.apply(op(engine, 'acme', 'op-1', { latency_ms: 20 }))).status).toBe('duplicate');
  });

  it('answers an applyMany of overridden and plain shards as single applies would', async () => {
    const p = prefix();
    const s = new RedisStore({ client: redis.client(), prefix: p });
    const other = new RedisStore({ client: redis.client(), prefix: p });
    const engine = new QuotaEngine({ store: s, config: cfg });
    const tenants = ['a', 'b', 'c', 'd'];
    for (const t of tenants) await s.apply(op(engine, t, `warm-${t}`, { requests: 1 }));
    for (const t of ['b', 'd']) {
      await other.setOverride(engine.resolve({ tenantId: t }).tag, {
        scope: 'tenant',
        id: t,
        meter: 'bytes_out',
        period: 'day',
        limit: 500,
      });
    }
    const ops = tenants.flatMap((t) => [
      op(engine, t, `m1-${t}`, { bytes_out: 300 }),
      op(engine, t, `m2-${t}`, { bytes_out: 300 }),
    ]);
    const results = await s.applyMany(ops);
    // Same-shard ops in one call run in order: the second 300 passes the 500 cap of b and d.
    expect(results.map((r) => (r instanceof Error ? r.message : r.status))).toEqual([
      'applied',
      'applied',
      'applied',
      'rejected',
      'applied',
      'applied',
      'applied',
      'rejected',
    ]);
  });
});
