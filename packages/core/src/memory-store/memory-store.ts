// MemoryStore: the in-process CounterStore (embedded default, tests). Single-threaded JS makes each call atomic.
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
} from '../store';
import { applyToShard } from './apply';
import {
  counterKey,
  ensureSeeded,
  newShard,
  overrideKey,
  releaseExpiredReservations,
  scopeKey,
  stateOf,
  touchedCounters,
  valueOf,
  type Expiring,
  type Shard,
} from './shard';

export interface MemoryStoreOptions {
  /** How long an operation id is remembered, so a replay within it changes nothing. Defaults to 10 minutes. */
  dedupWindowMs?: number;
  /** How often expired counters and ids are swept. Defaults to 60 000 ms. */
  sweepIntervalMs?: number;
}

export class MemoryStore implements CounterStore {
  private readonly shards = new Map<string, Shard>();
  private readonly dedupWindowMs: number;
  private timer: NodeJS.Timeout | null;

  constructor(options: MemoryStoreOptions = {}) {
    this.dedupWindowMs = options.dedupWindowMs ?? 10 * 60_000;
    const sweepMs = options.sweepIntervalMs ?? 60_000;
    this.timer = setInterval(() => this.sweep(Date.now()), sweepMs);
    this.timer.unref();
  }

  private shard(tag: string): Shard {
    let s = this.shards.get(tag);
    if (!s) {
      s = newShard();
      this.shards.set(tag, s);
    }
    return s;
  }

  async apply(op: ApplyOp): Promise<ApplyResult> {
    return applyToShard(this.shard(op.tag), op, this.dedupWindowMs);
  }

  /** Each op as `apply` would, in order (single-threaded: the whole call is atomic here). */
  async applyMany(ops: readonly ApplyOp[]): Promise<ApplyManyResult[]> {
    return ops.map((op) => {
      try {
        return applyToShard(this.shard(op.tag), op, this.dedupWindowMs);
      } catch (err) {
        return err instanceof Error ? err : new Error(String(err));
      }
    });
  }

  async read(op: ReadOp): Promise<ReadResult> {
    const s = this.shard(op.tag);
    if (!ensureSeeded(s, op.scopes, op.seed)) return { status: 'needs-seed' };
    releaseExpiredReservations(s, op.now);
    const touched = touchedCounters(s, op.scopes, op.meters, op.windows, op.limits);
    return { status: 'ok', counters: touched.map((t) => stateOf(t, valueOf(s, t.key, op.now))) };
  }

  async seed(op: SeedOp): Promise<boolean> {
    const s = this.shard(op.tag);
    const fresh = new Set(op.scopes.map(scopeKey).filter((k) => !s.seeded.has(k)));
    if (fresh.size === 0) return false;
    for (const c of op.counters) {
      if (!fresh.has(scopeKey(c))) continue;
      s.counters.set(counterKey(c, c.meter, c.window), {
        value: c.used,
        held: 0,
        expiresAt: c.window.expiresAt,
      });
    }
    for (const o of op.overrides) {
      const k = overrideKey(o, o.meter, o.period);
      if (o.limit !== null && !s.overrides.has(k)) s.overrides.set(k, o.limit);
    }
    for (const k of fresh) s.seeded.add(k);
    return true;
  }

  async setOverride(tag: string, entry: OverrideEntry): Promise<void> {
    const s = this.shard(tag);
    const k = overrideKey(entry, entry.meter, entry.period);
    if (entry.limit === null) s.overrides.delete(k);
    else s.overrides.set(k, entry.limit);
  }

  async claim(opts: ClaimOptions): Promise<ClaimedBatch[]> {
    const out: ClaimedBatch[] = [];
    for (const [tag, s] of this.shards) {
      for (const batch of s.claims.values()) {
        if (batch.claimedAt + opts.staleAfterMs <= opts.now) {
          batch.claimedAt = opts.now;
          out.push(structuredClone(batch));
        }
      }
      if (out.length >= opts.maxTags) break;
      if (s.unflushed.size === 0 && s.events.length === 0) continue;
      const batch: ClaimedBatch = {
        batchId: randomUUID(),
        tag,
        claimedAt: opts.now,
        usage: [...s.unflushed.values()].map(({ delta, cost }) => ({ ...delta, costPico: cost.toString() })),
        events: s.events,
      };
      s.unflushed = new Map();
      s.events = [];
      s.claims.set(batch.batchId, batch);
      out.push(structuredClone(batch));
      if (out.length >= opts.maxTags) break;
    }
    return out;
  }

  async ack(batches: ReadonlyArray<Pick<ClaimedBatch, 'batchId' | 'tag'>>): Promise<void> {
    for (const b of batches) this.shards.get(b.tag)?.claims.delete(b.batchId);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Drops expired counters, ids and threshold marks so memory stays bounded. */
  sweep(now: number): void {
    for (const [tag, s] of this.shards) {
      for (const map of [s.counters, s.fired, s.ops] as Array<Map<string, Expiring<unknown>>>) {
        for (const [k, v] of map) if (v.expiresAt !== null && v.expiresAt <= now) map.delete(k);
      }
      releaseExpiredReservations(s, now);
      const idle =
        s.counters.size === 0 &&
        s.overrides.size === 0 &&
        s.reservations.size === 0 &&
        s.ops.size === 0 &&
        s.unflushed.size === 0 &&
        s.events.length === 0 &&
        s.claims.size === 0;
      // An idle shard is forgotten; if it comes back it is re-seeded from the ledger, which then holds everything.
      if (idle) this.shards.delete(tag);
    }
  }
}
