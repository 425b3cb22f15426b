// RedisStore: the production CounterStore on the caller's ioredis Redis or Cluster; one script call per operation.
import { randomUUID } from 'node:crypto';
import type {
  ApplyOp,
  ApplyResult,
  ClaimOptions,
  ClaimedBatch,
  CounterStore,
  OverrideEntry,
  ReadOp,
  ReadResult,
  SeedOp,
} from '@tollgate/core';
import type { Cluster, Redis } from 'ioredis';
import { decodeBatch } from './batches';
import { decodeApply, decodeRead, encodeApply, encodeRead, encodeSeed } from './encoding';
import { toStoreError } from './errors';
import { FlushQueues, overrideField, ShardKeys, tagOfQueueMember } from './keys';
import { resolveOptions, type RedisStoreOptions } from './options';
import { registerScripts } from './scripts';

export class RedisStore implements CounterStore {
  readonly client: Redis | Cluster;
  readonly prefix: string;
  readonly dedupWindowMs: number;
  /** True when the client is a Cluster: flush queues are then kept one per slot. */
  readonly cluster: boolean;
  private readonly queues: FlushQueues;

  constructor(options: RedisStoreOptions) {
    const o = resolveOptions(options);
    this.client = o.client;
    this.prefix = o.prefix;
    this.dedupWindowMs = o.dedupWindowMs;
    this.cluster = o.cluster;
    this.queues = new FlushQueues(o.prefix, o.cluster);
    registerScripts(this.client);
  }

  /** The keys of one shard (see the README for the layout). */
  keys(tag: string): ShardKeys {
    if (typeof tag !== 'string' || tag === '') throw new TypeError('a shard tag must be a non-empty string');
    return new ShardKeys(this.prefix, tag);
  }

  async apply(op: ApplyOp): Promise<ApplyResult> {
    const keys = this.keys(op.tag);
    const { args, candidates } = encodeApply(op, keys, this.queues.forShard(keys), this.dedupWindowMs);
    let reply: unknown;
    try {
      reply = await this.client.tollgateApply(...args);
    } catch (err) {
      throw toStoreError(err, 'apply');
    }
    return decodeApply(reply, candidates);
  }

  async read(op: ReadOp): Promise<ReadResult> {
    const { args, candidates } = encodeRead(op, this.keys(op.tag));
    let reply: unknown;
    try {
      reply = await this.client.tollgateRead(...args);
    } catch (err) {
      throw toStoreError(err, 'read');
    }
    return decodeRead(reply, candidates);
  }

  async seed(op: SeedOp): Promise<boolean> {
    const args = encodeSeed(op, this.keys(op.tag));
    try {
      return (await this.client.tollgateSeed(...args)) === 1;
    } catch (err) {
      throw toStoreError(err, 'seed');
    }
  }

  async setOverride(tag: string, entry: OverrideEntry): Promise<void> {
    const keys = this.keys(tag);
    const field = overrideField(entry, entry.meter, entry.period);
    try {
      if (entry.limit === null) await this.client.hdel(keys.overrides, field);
      else await this.client.hset(keys.overrides, field, String(entry.limit));
    } catch (err) {
      throw toStoreError(err, 'setOverride');
    }
  }

  async claim(opts: ClaimOptions): Promise<ClaimedBatch[]> {
    try {
      const tags = await this.dueTags(opts.now - opts.staleAfterMs, opts.maxTags);
      const perTag = await Promise.all(tags.map((tag) => this.claimShard(tag, opts)));
      return perTag.flat();
    } catch (err) {
      throw toStoreError(err, 'claim');
    }
  }

  private async claimShard(tag: string, opts: ClaimOptions): Promise<ClaimedBatch[]> {
    const k = this.keys(tag);
    const reply = (await this.client.tollgateClaim(
      5,
      k.claims,
      k.unflushed,
      k.events,
      this.queues.forShard(k),
      k.batchStem,
      String(opts.now),
      String(opts.staleAfterMs),
      randomUUID(),
      k.dirtyMember,
      k.batchMemberSuffix,
    )) as unknown[];
    return reply.map((raw) => decodeBatch(tag, opts.now, raw));
  }

  /**
   * Shards with unflushed usage or stale claims, oldest first: one ZRANGEBYSCORE per flush queue (one queue
   * on a single node; 16384 on a cluster, sent as one pipeline per master).
   */
  private async dueTags(cutoff: number, maxTags: number): Promise<string[]> {
    const queues = this.queues.all();
    const replies = this.cluster
      ? await this.probeCluster(queues, cutoff, maxTags)
      : [
          await (this.client as Redis).zrangebyscore(
            queues[0]!,
            '-inf',
            cutoff,
            'WITHSCORES',
            'LIMIT',
            0,
            maxTags,
          ),
        ];
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

  private async probeCluster(
    queues: readonly string[],
    cutoff: number,
    maxTags: number,
  ): Promise<string[][]> {
    const cluster = this.client as Cluster;
    const byNode = new Map<string, string[]>();
    queues.forEach((q, slot) => {
      const node = cluster.slots[slot]?.[0] ?? '';
      let list = byNode.get(node);
      if (!list) byNode.set(node, (list = []));
      list.push(q);
    });
    const probe = (q: string) => cluster.zrangebyscore(q, '-inf', cutoff, 'WITHSCORES', 'LIMIT', 0, maxTags);
    const groups = await Promise.all(
      [...byNode].map(async ([node, list]) => {
        if (node === '') return Promise.all(list.map(probe));
        const pipeline = cluster.pipeline();
        for (const q of list) pipeline.zrangebyscore(q, '-inf', cutoff, 'WITHSCORES', 'LIMIT', 0, maxTags);
        const results = await pipeline.exec().catch(() => null);
        // The slot map moved under us (resharding, failover): ask slot by slot, letting ioredis follow MOVED.
        if (!results || results.some(([err]) => err)) return Promise.all(list.map(probe));
        return results.map(([, r]) => r as string[]);
      }),
    );
    return groups.flat();
  }

  async ack(batches: ReadonlyArray<Pick<ClaimedBatch, 'batchId' | 'tag'>>): Promise<void> {
    const byTag = new Map<string, Set<string>>();
    for (const b of batches) {
      let ids = byTag.get(b.tag);
      if (!ids) byTag.set(b.tag, (ids = new Set()));
      ids.add(b.batchId);
    }
    try {
      await Promise.all(
        [...byTag].map(([tag, ids]) => {
          const k = this.keys(tag);
          return this.client.tollgateAck(
            3,
            k.claims,
            this.queues.forShard(k),
            k.batchStem,
            k.batchMemberSuffix,
            ...ids,
          );
        }),
      );
    } catch (err) {
      throw toStoreError(err, 'ack');
    }
  }

  async ping(): Promise<void> {
    try {
      await this.client.ping();
    } catch (err) {
      throw toStoreError(err, 'ping');
    }
  }

  /** Nothing to release: the store owns no timers or connections, and never quits the caller's client. */
  async close(): Promise<void> {}
}
