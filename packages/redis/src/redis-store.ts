// RedisStore: the production CounterStore on the caller's ioredis Redis or Cluster; one script call per operation.
import { randomUUID } from 'node:crypto';
import type {
  ApplyManyResult,
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
import { dueTags } from './discovery';
import {
  applyManyArgs,
  encodeAck,
  encodeApply,
  encodeClaim,
  encodeRead,
  encodeSeed,
  type EncodedOp,
} from './encoding';
import { toStoreError } from './errors';
import { FlushQueues, overrideField, ShardKeys } from './keys';
import { resolveOptions, type RedisStoreOptions } from './options';
import { decodeApply, decodeRead } from './replies';
import { APPLY } from './script-layout';
import { registerScripts } from './scripts';
import { slotOfKey } from './slots';

export class RedisStore implements CounterStore {
  readonly client: Redis | Cluster;
  readonly prefix: string;
  readonly dedupWindowMs: number;
  /** True when the client is a Cluster: flush queues are then kept one per slot. */
  readonly cluster: boolean;
  private readonly queues: FlushQueues;
  private sweepStart = 0;

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

  /**
   * Many ops in one script call (apply-many.lua); on a cluster, one call per slot (a script's keys share one).
   * An op that does not encode, or that the script answers with an error, is that error in its place; so is every
   * op of a slot whose call failed (the other slots' ops are answered by their own calls).
   */
  async applyMany(ops: readonly ApplyOp[]): Promise<ApplyManyResult[]> {
    const results: ApplyManyResult[] = new Array<ApplyManyResult>(ops.length);
    const groups = new Map<number, Array<{ index: number; encoded: EncodedOp }>>();
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      let encoded: EncodedOp;
      try {
        const keys = this.keys(op.tag);
        encoded = encodeApply(op, keys, this.queues.forShard(keys), this.dedupWindowMs);
      } catch (err) {
        results[i] = err instanceof Error ? err : new Error(String(err));
        continue;
      }
      const slot = this.cluster ? slotOfKey(encoded.args[APPLY.at.shardStem]!) : 0;
      let group = groups.get(slot);
      if (group === undefined) groups.set(slot, (group = []));
      group.push({ index: i, encoded });
    }
    await Promise.all([...groups.values()].map((group) => this.applyGroup(group, results)));
    return results;
  }

  private async applyGroup(
    group: ReadonlyArray<{ index: number; encoded: EncodedOp }>,
    results: ApplyManyResult[],
  ): Promise<void> {
    let replies: unknown[];
    try {
      if (group.length === 1) replies = [await this.client.tollgateApply(...group[0]!.encoded.args)];
      else {
        const args = applyManyArgs(group.map((g) => g.encoded.args));
        replies = (await this.client.tollgateApplyMany(...args)) as unknown[];
      }
    } catch (err) {
      // This group's ops only: on a cluster the other slots' calls were applied and are answered as such.
      const failed = toStoreError(err, 'applyMany');
      for (const { index } of group) results[index] = failed;
      return;
    }
    if (!Array.isArray(replies) || replies.length !== group.length) {
      const failed = toStoreError(new Error(`apply-many answered ${JSON.stringify(replies)}`), 'applyMany');
      for (const { index } of group) results[index] = failed;
      return;
    }
    for (let j = 0; j < group.length; j++) {
      const { index, encoded } = group[j]!;
      const reply = replies[j];
      try {
        if (reply instanceof Error) throw reply;
        results[index] = decodeApply(reply, encoded.candidates);
      } catch (err) {
        results[index] = toStoreError(err, 'apply');
      }
    }
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
      // Rotate where a cluster sweep starts, so a backlog larger than maxTags drains fairly.
      this.sweepStart = (this.sweepStart + 997) % 16384;
      const tags = await dueTags(
        this.client,
        this.queues.all(),
        opts.now - opts.staleAfterMs,
        opts.maxTags,
        this.sweepStart,
      );
      const perTag = await Promise.all(tags.map((tag) => this.claimShard(tag, opts)));
      return perTag.flat();
    } catch (err) {
      throw toStoreError(err, 'claim');
    }
  }

  private async claimShard(tag: string, opts: ClaimOptions): Promise<ClaimedBatch[]> {
    const k = this.keys(tag);
    const args = encodeClaim(k, this.queues.forShard(k), opts.now, opts.staleAfterMs, randomUUID());
    const reply = (await this.client.tollgateClaim(...args)) as unknown[];
    return reply.map((raw) => decodeBatch(tag, opts.now, raw));
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
          return this.client.tollgateAck(...encodeAck(k, this.queues.forShard(k), ids));
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
