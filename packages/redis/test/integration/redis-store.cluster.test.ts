import { storeContractSuite } from '@tollgate/core/testing';
import { QuotaEngine, StoreUnavailableError } from '@tollgate/core';
import type { Cluster } from 'ioredis';
import { RedisStore } from '@tollgate/redis';
import { slotOfTag } from '@tollgate/redis/internal';
import { OwnedRedisCluster } from '../../../../test-support/services';
import { clusterClient, config } from './helpers';

// One real 3-master cluster for the whole file (starting one takes a few seconds).
let cluster: OwnedRedisCluster;
let client: Cluster;
let n = 0;

beforeAll(async () => {
  cluster = await OwnedRedisCluster.start();
  client = await clusterClient(cluster.startupNodes);
}, 60_000);
afterAll(async () => {
  await client?.quit();
  await cluster?.destroy();
});

storeContractSuite({
  name: 'RedisStore (3-master cluster)',
  create: async () => new RedisStore({ client, prefix: `contract${++n}:` }),
});

describe('RedisStore on a Redis Cluster', () => {
  const cfg = config({ plans: { free: { limits: { requests: { day: 500 } } } } });

  it('admits exactly 500 of 2000 consumes fired concurrently from 4 separate clients', async () => {
    const clients = await Promise.all(Array.from({ length: 4 }, () => clusterClient(cluster.startupNodes)));
    try {
      const engines = clients.map(
        (c) => new QuotaEngine({ store: new RedisStore({ client: c, prefix: 'race:' }), config: cfg }),
      );
      const who = { tenantId: 'acme-race' };
      const results = await Promise.all(
        Array.from({ length: 2000 }, (_, i) => engines[i % 4]!.consume(who, { requests: 1 })),
      );
      expect(results.filter((r) => r.admitted).length).toBe(500);
      expect((await engines[0]!.status(who)).quotas.requests?.day?.used).toBe(500);
    } finally {
      await Promise.all(clients.map((c) => c.quit()));
    }
  });

  it('claims the unflushed usage of shards on every master in one call, and nothing once acked', async () => {
    const store = new RedisStore({ client, prefix: 'claims:' });
    const engine = new QuotaEngine({ store, config: cfg });
    const tenants = Array.from({ length: 60 }, (_, i) => `tenant-${i}`);
    // The tenants' shards are spread over the three masters.
    const nodes = new Set(tenants.map((t) => client.slots[slotOfTag(`t:${t}`)]?.[0]));
    expect(nodes.size).toBe(3);
    for (const [i, tenantId] of tenants.entries()) {
      for (let k = 0; k <= i % 3; k++) await engine.consume({ tenantId }, { requests: 1 });
    }
    const now = Date.now();
    const batches = await store.claim({ now, maxTags: 1000, staleAfterMs: 60_000 });
    expect(batches.map((b) => b.tag).sort()).toEqual(tenants.map((t) => `t:${t}`).sort());
    for (const b of batches) {
      const i = tenants.indexOf(b.tag.slice(2));
      expect(b.usage).toEqual([
        expect.objectContaining({ meter: 'requests', amount: (i % 3) + 1, costPico: '0' }),
      ]);
    }
    // Not stale yet: nothing is handed out again; stale: every batch again, same ids.
    expect(await store.claim({ now, maxTags: 1000, staleAfterMs: 60_000 })).toEqual([]);
    const again = await store.claim({ now: now + 60_000, maxTags: 1000, staleAfterMs: 60_000 });
    expect(again.map((b) => b.batchId).sort()).toEqual(batches.map((b) => b.batchId).sort());
    await store.ack(again);
    expect(await store.claim({ now: now + 200_000, maxTags: 1000, staleAfterMs: 60_000 })).toEqual([]);
  });

  it('hands out at most maxTags shards per claim, the rest on the next', async () => {
    const store = new RedisStore({ client, prefix: 'maxtags:' });
    const engine = new QuotaEngine({ store, config: cfg });
    for (let i = 0; i < 25; i++)
      await engine.record({ tenantId: `m-${i}` }, [{ meter: 'requests', amount: 1 }]);
    const now = Date.now();
    const first = await store.claim({ now, maxTags: 10, staleAfterMs: 60_000 });
    const second = await store.claim({ now, maxTags: 10, staleAfterMs: 60_000 });
    const third = await store.claim({ now, maxTags: 10, staleAfterMs: 60_000 });
    expect([first.length, second.length, third.length]).toEqual([10, 10, 5]);
    expect(new Set([...first, ...second, ...third].map((b) => b.tag)).size).toBe(25);
    await store.ack([...first, ...second, ...third]);
  });

  // Last: it takes a master down for good.
  it('fails with StoreUnavailableError for a shard whose master is down, and still serves the others', async () => {
    const store = new RedisStore({ client, prefix: 'down:' });
    const engine = new QuotaEngine({ store, config: cfg });
    const tenants = Array.from({ length: 30 }, (_, i) => `d-${i}`);
    const nodeOf = (t: string) => client.slots[slotOfTag(`t:${t}`)]?.[0];
    const victim = cluster.nodes.find((n) => `127.0.0.1:${n.port}` === nodeOf(tenants[0]!))!;
    const alive = tenants.find((t) => nodeOf(t) !== `127.0.0.1:${victim.port}`)!;
    await victim.stop();
    await expect(engine.consume({ tenantId: tenants[0]! }, { requests: 1 })).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );
    expect((await engine.consume({ tenantId: alive }, { requests: 1 })).admitted).toBe(true);
  }, 30_000);
});
