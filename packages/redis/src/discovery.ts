// Finds the shards the flusher must claim (unflushed usage, stale claims) by reading the flush queues.
import type { Cluster, Redis } from 'ioredis';
import { tagOfQueueMember } from './keys';
import { PROBE, scriptArgs } from './script-layout';
import { PROBE_LUA } from './scripts';

type Flat = string[];

/** Up to `maxTags` due shard tags, oldest first. */
export async function dueTags(
  client: Redis | Cluster,
  queues: readonly string[],
  cutoff: number,
  maxTags: number,
  start: number,
): Promise<string[]> {
  const replies =
    queues.length === 1
      ? [await client.zrangebyscore(queues[0]!, '-inf', cutoff, 'WITHSCORES', 'LIMIT', 0, maxTags)]
      : await probeCluster(client as Cluster, queues, cutoff, maxTags, start);
  const due: Array<{ tag: string; score: number }> = [];
  for (const flat of replies) {
    for (let i = 0; i < flat.length; i += 2) {
      const tag = tagOfQueueMember(flat[i]!);
      if (tag !== null) due.push({ tag, score: Number(flat[i + 1]) });
    }
  }
  due.sort((a, b) => a.score - b.score);
  const tags = new Set<string>();
  for (const d of due) {
    if (tags.size >= maxTags) break;
    tags.add(d.tag);
  }
  return [...tags];
}

/**
 * One probe script per master for the slots it serves, starting at a rotating slot so a backlog larger than
 * `maxTags` is drained fairly. Falls back to one ZRANGEBYSCORE per queue (pipelined per node) when the
 * script cannot run (Redis before 7.0) or a slot's master is not known yet.
 */
async function probeCluster(
  cluster: Cluster,
  queues: readonly string[],
  cutoff: number,
  maxTags: number,
  start: number,
): Promise<Flat[]> {
  const keyPrefix = (cluster.options as { keyPrefix?: string }).keyPrefix ?? '';
  const masters = new Map<string, Redis>();
  for (const node of cluster.nodes('master')) masters.set(`${node.options.host}:${node.options.port}`, node);
  const byNode = new Map<string, number[]>();
  for (let i = 0; i < queues.length; i++) {
    const slot = (start + i) % queues.length;
    const node = cluster.slots[slot]?.[0] ?? '';
    let list = byNode.get(node);
    if (!list) byNode.set(node, (list = []));
    list.push(slot);
  }
  const groups = await Promise.all(
    [...byNode].map(async ([nodeKey, slots]): Promise<Flat[]> => {
      const node = masters.get(nodeKey);
      if (node) {
        try {
          const args = scriptArgs(PROBE, {}, { cutoff: String(cutoff), maxMembers: String(maxTags) });
          // queuesAt: the queue keys, with the client's keyPrefix (ioredis adds it to declared keys only).
          for (const s of slots) args.push(keyPrefix + queues[s]!);
          return [(await node.eval(PROBE_LUA, PROBE.keyCount, ...args)) as Flat];
        } catch {
          // Fall through to the per-queue probe.
        }
      }
      return probeEach(
        cluster,
        slots.map((s) => queues[s]!),
        cutoff,
        maxTags,
      );
    }),
  );
  return groups.flat();
}

async function probeEach(
  cluster: Cluster,
  queues: string[],
  cutoff: number,
  maxTags: number,
): Promise<Flat[]> {
  const pipeline = cluster.pipeline();
  for (const q of queues) pipeline.zrangebyscore(q, '-inf', cutoff, 'WITHSCORES', 'LIMIT', 0, maxTags);
  const results = await pipeline.exec().catch(() => null);
  if (results && !results.some(([err]) => err)) return results.map(([, r]) => r as Flat);
  // The slot map moved under us (resharding, failover): ask queue by queue, letting ioredis follow MOVED.
  return Promise.all(
    queues.map((q) => cluster.zrangebyscore(q, '-inf', cutoff, 'WITHSCORES', 'LIMIT', 0, maxTags)),
  );
}
