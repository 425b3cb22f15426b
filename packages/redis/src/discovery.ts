// Finds the shards the flusher must claim (unflushed usage, stale claims) by reading the flush queues.
import type { Cluster, Redis } from 'ioredis';
import { tagOfQueueMember } from './keys';
import { CHECKS } from './scripts';

/**
 * probe: reads every flush queue local to the cluster node it runs on, in one call per node. Read-only and
 * declares no keys: it reads per-slot queues by name, which Redis 7 allows for local keys with
 * `allow-cross-slot-keys`. A queue whose slot is not (or no longer) local is skipped; the next claim sees it.
 *
 * ARGV[1] cutoff (ms): members scored at or below it are due   ARGV[2] max members wanted (>= 1)
 * ARGV[3..] flush queue keys (with the client's keyPrefix)
 * Returns {member, score, member, score, ...}; arguments of any other shape: an error reply.
 */
export const PROBE_LUA = `#!lua flags=no-writes,allow-cross-slot-keys
${CHECKS}
local invalid = checked('probe', function()
  keys(0)
  integer(1, 'cutoff')
  if tonumber(integer(2, 'max members')) < 1 then bad('max members (ARGV[2]) must be at least 1') end
end)
if invalid then return invalid end
local out = {}
local max = tonumber(ARGV[2])
for i = 3, NARGV do
  local r = redis.pcall('ZRANGEBYSCORE', ARGV[i], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, max)
  if type(r) == 'table' and not r.err then
    for j = 1, #r do out[#out + 1] = r[j] end
    if #out >= 2 * max then break end
  end
end
return out
`;

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
          const keys = slots.map((s) => keyPrefix + queues[s]!);
          return [(await node.eval(PROBE_LUA, 0, cutoff, maxTags, ...keys)) as Flat];
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
