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
  manyArgs,
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
import { ACK, APPLY, CLAIM } from './script-layout';
import { registerScripts } from './scripts';
import { slotOfKey } from './slots';

/**
 * Shards one claim or ack call takes at most: a sweep of hundreds of shards is a few calls, none holding Redis for
 * much longer than an apply-many call of MAX_OPS_PER_CALL ops.
 */
const MAX_SHARDS_PER_CALL = 64;

/**
 * Shards remembered as having overrides (their ops go with every counter group; see `OverriddenShards`). Past it,
 * the oldest are forgotten: an op of one of those costs one more script call, then it is remembered again.
 */
const MAX_OVERRIDDEN_SHARDS = 100_000;

/**
 * The shards this store has seen overrides in. Ops of any other shard go in the lean form (only counter groups with
 * a plan limit: an op of unlimited meters sends no counters at all); the script refuses that form ('F') for a
 * shard with overrides, which can limit any counter, and the op is sent again whole.
 */
class OverriddenShards {
  private readonly tags = new Set<string>();
  has(tag: string): boolean {
    return this.tags.has(tag);
  }
  add(tag: string): void {
    if (this.tags.has(tag)) return;
    if (this.tags.size >= MAX_OVERRIDDEN_SHARDS) {
      // Set iteration is insertion order: forget the oldest tenth at once.
      let n = MAX_OVERRIDDEN_SHARDS / 10;
      for (const t of this.tags) {
        this.tags.delete(t);
        if (--n <= 0) break;
      }
    }
    this.tags.add(tag);
  }
}

/** Marks, among applyMany's results, an op to send again whole. */
const EVERY_GROUP: ApplyManyResult = new Error('sent again with every counter group');

/** The script's answer to a lean op sent to a shard with overrides. */
function wantsEveryGroup(reply: unknown): boolean {
  return Array.isArray(reply) && reply.length === 1 && reply[0] === 'F';
}

export class RedisStore implements CounterStore {
  readonly client: Redis | Cluster;
  readonly prefix: string;
  readonly dedupWindowMs: number;
  /** True when the client is a Cluster: flush queues are then kept one per slot. */
  readonly cluster: boolean;
  private readonly queues: FlushQueues;
  private sweepStart = 0;
  private readonly overridden = new OverriddenShards();
  /** Added to the keys inside a many-call's packed ops, as ioredis adds it to the call's declared key. */
  private readonly keyPrefix: string;

  constructor(options: RedisStoreOptions) {
    const o = resolveOptions(options);
    this.client = o.client;
    this.prefix = o.prefix;
    this.dedupWindowMs = o.dedupWindowMs;
    this.cluster = o.cluster;
    this.keyPrefix = o.keyPrefix;
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
    let encoded = this.encodeApply(op, keys);
    let reply = await this.callApply(encoded.args);
    if (wantsEveryGroup(reply)) {
      // Refused in the lean form: the shard has overrides. Sent again with every counter group.
      this.overridden.add(op.tag);
      encoded = this.encodeApply(op, keys, true);
      reply = await this.callApply(encoded.args);
    }
    return decodeApply(reply, encoded.candidates);
  }

  /** Lean unless `whole` or the shard is known to have overrides. */
  private encodeApply(op: ApplyOp, keys: ShardKeys, whole = false): EncodedOp {
    const lean = !whole && !this.overridden.has(op.tag);
    return encodeApply(op, keys, this.queues.forShard(keys), this.dedupWindowMs, lean);
  }

  private async callApply(args: string[]): Promise<unknown> {
    try {
      return await this.client.tollgateApply(...args);
    } catch (err) {
      throw toStoreError(err, 'apply');
    }
  }

  /**
   * Many ops in one script call (many.lua); on a cluster, one call per slot (a script's keys share one).
   * An op that does not encode, or that the script answers with an error, is that error in its place; so is every
   * op of a slot whose call failed (the other slots' ops are answered by their own calls).
   */
  async applyMany(ops: readonly ApplyOp[]): Promise<ApplyManyResult[]> {
    const results = await this.applyManyAs(ops, false);
    // Ops refused in the lean form (their shard has overrides) go again whole, in one call per slot, in order.
    const refused: number[] = [];
    results.forEach((r, i) => {
      if (r === EVERY_GROUP) refused.push(i);
    });
    if (refused.length > 0) {
      for (const i of refused) this.overridden.add(ops[i]!.tag);
      const again = await this.applyManyAs(
        refused.map((i) => ops[i]!),
        true,
      );
      refused.forEach((i, j) => (results[i] = again[j]!));
    }
    return results;
  }

  /** applyMany's one pass: `whole` sends every counter group (else lean unless the shard is known overridden). */
  private async applyManyAs(ops: readonly ApplyOp[], whole: boolean): Promise<ApplyManyResult[]> {
    const results: ApplyManyResult[] = new Array<ApplyManyResult>(ops.length);
    const groups = new Map<number, Array<{ index: number; encoded: EncodedOp }>>();
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      let encoded: EncodedOp;
      try {
        const keys = this.keys(op.tag);
        encoded = this.encodeApply(op, keys, whole);
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
      // A lone op too: packed, it is one argument for ioredis to write, not ~40.
      const args = manyArgs(
        group.map((g) => g.encoded.args),
        APPLY.keyCount,
        this.keyPrefix,
      );
      replies = (await this.client.tollgateApplyMany(...args)) as unknown[];
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
        results[index] = wantsEveryGroup(reply) ? EVERY_GROUP : decodeApply(reply, encoded.candidates);
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
    if (op.overrides.some((o) => o.limit !== null)) this.overridden.add(op.tag);
    const args = encodeSeed(op, this.keys(op.tag));
    try {
      return (await this.client.tollgateSeed(...args)) === 1;
    } catch (err) {
      throw toStoreError(err, 'seed');
    }
  }

  async setOverride(tag: string, entry: OverrideEntry): Promise<void> {
    const keys = this.keys(tag);
    if (entry.limit !== null) this.overridden.add(tag);
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
      const calls = tags.map((tag) => {
        const k = this.keys(tag);
        return {
          tag,
          args: encodeClaim(k, this.queues.forShard(k), opts.now, opts.staleAfterMs, randomUUID()),
        };
      });
      const replies = await this.runMany(calls, 'tollgateClaim', 'tollgateClaimMany', CLAIM.keyCount);
      return replies.flatMap((reply, i) => {
        if (reply instanceof Error) throw reply;
        if (!Array.isArray(reply)) throw new Error(`claim answered ${JSON.stringify(reply)}`);
        return reply.map((raw) => decodeBatch(calls[i]!.tag, opts.now, raw));
      });
    } catch (err) {
      throw toStoreError(err, 'claim');
    }
  }

  async ack(batches: ReadonlyArray<Pick<ClaimedBatch, 'batchId' | 'tag'>>): Promise<void> {
    const byTag = new Map<string, Set<string>>();
    for (const b of batches) {
      let ids = byTag.get(b.tag);
      if (!ids) byTag.set(b.tag, (ids = new Set()));
      ids.add(b.batchId);
    }
    try {
      const calls = [...byTag].map(([tag, ids]) => {
        const k = this.keys(tag);
        return { tag, args: encodeAck(k, this.queues.forShard(k), ids) };
      });
      for (const reply of await this.runMany(calls, 'tollgateAck', 'tollgateAckMany', ACK.keyCount)) {
        if (reply instanceof Error) throw reply;
      }
    } catch (err) {
      throw toStoreError(err, 'ack');
    }
  }

  /**
   * Calls of one script for many shards, in as few script calls as they can share (many.lua): every call on a
   * single node, a slot's calls on a cluster, at most MAX_SHARDS_PER_CALL in each. A lone call goes as itself.
   * Answers each call's reply in order (an Error in its place when its script answered one).
   */
  private async runMany(
    calls: ReadonlyArray<{ tag: string; args: string[] }>,
    one: 'tollgateClaim' | 'tollgateAck',
    many: 'tollgateClaimMany' | 'tollgateAckMany',
    keysPerCall: number,
  ): Promise<unknown[]> {
    const groups = new Map<number, number[]>();
    calls.forEach((call, i) => {
      const slot = this.cluster ? slotOfKey(call.args[0]!) : 0;
      let group = groups.get(slot);
      if (group === undefined) groups.set(slot, (group = []));
      group.push(i);
    });
    const parts: number[][] = [];
    for (const group of groups.values()) {
      for (let i = 0; i < group.length; i += MAX_SHARDS_PER_CALL)
        parts.push(group.slice(i, i + MAX_SHARDS_PER_CALL));
    }
    const replies = new Array<unknown>(calls.length);
    await Promise.all(
      parts.map(async (part) => {
        if (part.length === 1) {
          replies[part[0]!] = await this.client[one](...calls[part[0]!]!.args);
          return;
        }
        const answer = (await this.client[many](
          ...manyArgs(
            part.map((i) => calls[i]!.args),
            keysPerCall,
            this.keyPrefix,
          ),
        )) as unknown;
        if (!Array.isArray(answer) || answer.length !== part.length) {
          throw new Error(`${many} answered ${JSON.stringify(answer)}`);
        }
        part.forEach((index, j) => (replies[index] = answer[j]));
      }),
    );
    return replies;
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
