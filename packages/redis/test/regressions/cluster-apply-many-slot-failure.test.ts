// On a cluster, applyMany sends one script call per slot. When one slot's call failed (its node down), the whole
// applyMany rejected: the ops of the other slots, applied, were answered with that error, so their callers took
// counted units for failed ones. Each slot's ops are now answered by their own call.
import type { Cluster } from 'ioredis';
import { QuotaEngine } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';
import { slotOfTag } from '@tollgate/redis/internal';
import { OwnedRedisCluster } from '../../../../test-support/services';
import { clusterClient, config, requestOp } from '../integration/helpers';

const cfg = config({ plans: { free: { limits: { requests: { day: 100 } } } } });
let cluster: OwnedRedisCluster;
let client: Cluster;

beforeAll(async () => {
  cluster = await OwnedRedisCluster.start();
  client = await clusterClient(cluster.startupNodes);
}, 60_000);
afterAll(async () => {
  client?.disconnect();
  await cluster?.destroy();
});

/** The port of the master serving `tag`'s slot. */
function portOf(tag: string): number {
  const node = (client.slots as string[][])[slotOfTag(tag)]![0]!;
  return Number(node.split(':')[1]);
}

it("answers the live slot's op as applied when another slot's node is down", async () => {
  const store = new RedisStore({ client, prefix: 'slots:' });
  const engine = new QuotaEngine({ store, config: cfg });
  const tenants = Array.from({ length: 50 }, (_, i) => `t${i}`);
  const live = tenants[0]!;
  const liveTag = engine.resolve({ tenantId: live }).tag;
  const down = tenants.find((t) => portOf(engine.resolve({ tenantId: t }).tag) !== portOf(liveTag))!;
  expect(down).toBeDefined();
  const node = cluster.nodes.find((n) => n.port === portOf(engine.resolve({ tenantId: down }).tag))!;
  await node.stop();
  const results = await store.applyMany([requestOp(engine, live, 's-1'), requestOp(engine, down, 's-2')]);
  expect(results[0]).toMatchObject({ status: 'applied' });
  expect(results[1]).toBeInstanceOf(Error);
  expect((await engine.status({ tenantId: live })).quotas.requests?.day?.used).toBe(1);
}, 30_000);
