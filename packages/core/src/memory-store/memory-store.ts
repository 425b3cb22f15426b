// MemoryStore: the in-process CounterStore (embedded default, tests). Single-threaded JS makes each call atomic.
import { randomUUID } from 'node:crypto';
import type { Period } from './periods';
import type {
  ApplyOp,
  ApplyResult,
  ClaimOptions,
  ClaimedBatch,
  CounterState,
  CounterStore,
  LimitSpec,
  MeterAmount,
  OverrideEntry,
  ReadOp,
  ReadResult,
  ScopeRef,
  SeedOp,
  ThresholdCrossing,
  UsageDelta,
  UsageEventRecord,
} from './store';
import type { PeriodWindow } from './periods';

export interface MemoryStoreOptions {
  /** How long an operation id is remembered, so a replay within it changes nothing. Defaults to 10 minutes. */
  dedupWindowMs?: number;
  /** How often expired counters and ids are swept. Defaults to 60 000 ms. */
  sweepIntervalMs?: number;
}

interface Expiring<T> {
  value: T;
  expiresAt: number | null;
}

/** A counter: `value` is what admission compares (used plus held); `held` is the part reservations hold. */
interface Counter extends Expiring<number> {
  held: number;
}

interface Shard {
  /** Scopes (`scope\0id`) whose counters were seeded. */
  seeded: Set<string>;
  counters: Map<string, Counter>;
  fired: Map<string, Expiring<Set<number>>>;
  overrides: Map<string, number>;
  reservations: Map<string, { expiresAt: number; items: Array<{ key: string; amount: number }> }>;
  ops: Map<string, Expiring<'applied' | 'rejected'>>;
  unflushed: Map<string, { delta: UsageDelta; cost: bigint }>;
  events: UsageEventRecord[];
  claims: Map<string, ClaimedBatch>;
}

/** Resolved counter a call touches: its key, the effective limit, and its window. */
interface Touched {
  key: string;
  scope: ScopeRef;
  meter: string;
  window: PeriodWindow;
  limit: number;
}

const SEP = '\u0000';
/** Mark for "rejected by this counter in this window" beside the percent thresholds. */
const EXCEEDED_MARK = -1;

function counterKey(s: ScopeRef, meter: string, w: PeriodWindow): string {
  return [s.scope, s.id, meter, w.period, w.key].join(SEP);
}

function scopeKey(s: ScopeRef): string {
  return `${s.scope}${SEP}${s.id}`;
}

function overrideKey(s: ScopeRef, meter: string, period: Period): string {
  return [s.scope, s.id, meter, period].join(SEP);
}

function deltaKey(d: UsageDelta): string {
  return [
    d.tenantId ?? '',
    d.userId ?? '',
    d.meter,
    d.model ?? '',
    d.bucketStart,
    d.estimated ? 1 : 0,
    d.keyId ?? '',
  ].join(SEP);
}

function sumByMeter(...lists: Array<MeterAmount[] | undefined>): Map<string, number> {
  const out = new Map<string, number>();
  for (const list of lists) for (const a of list ?? []) out.set(a.meter, (out.get(a.meter) ?? 0) + a.amount);
  return out;
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
      s = {
        seeded: new Set(),
        counters: new Map(),
        fired: new Map(),
        overrides: new Map(),
        reservations: new Map(),
        ops: new Map(),
        unflushed: new Map(),
        events: [],
        claims: new Map(),
      };
      this.shards.set(tag, s);
    }
    return s;
  }

  private ensureSeeded(s: Shard, scopes: ScopeRef[], mode: 'auto' | 'required'): boolean {
    const missing = scopes.filter((sc) => !s.seeded.has(scopeKey(sc)));
    if (missing.length === 0) return true;
    if (mode === 'required') return false;
    for (const sc of missing) s.seeded.add(scopeKey(sc));
    return true;
  }

  private value(s: Shard, key: string, now: number): number {
    const c = s.counters.get(key);
    if (!c) return 0;
    if (c.expiresAt !== null && c.expiresAt <= now) {
      s.counters.delete(key);
      return 0;
    }
    return c.value;
  }

  private add(s: Shard, key: string, amount: number, expiresAt: number | null, now: number): number {
    const next = this.value(s, key, now) + amount;
    const c = s.counters.get(key);
    if (c) {
      c.value = next;
      c.expiresAt = expiresAt;
    } else {
      s.counters.set(key, { value: next, held: 0, expiresAt });
    }
    return next;
  }

  private releaseExpiredReservations(s: Shard, now: number): void {
    for (const [id, r] of s.reservations) {
      if (r.expiresAt <= now) this.undoReservation(s, id, now);
    }
  }

  private undoReservation(s: Shard, id: string, now: number): void {
    const r = s.reservations.get(id);
    if (!r) return;
    s.reservations.delete(id);
    for (const item of r.items) {
      const c = s.counters.get(item.key);
      if (c && (c.expiresAt === null || c.expiresAt > now)) {
        c.value -= item.amount;
        c.held = Math.max(0, c.held - item.amount);
      }
    }
  }

  private touched(
    s: Shard,
    scopes: ScopeRef[],
    meters: Iterable<string>,
    windows: PeriodWindow[],
    limits: LimitSpec[],
  ): Touched[] {
    const plan = new Map<string, number>();
    for (const l of limits) plan.set(overrideKey(l, l.meter, l.period), l.limit);
    const out: Touched[] = [];
    const meterList = [...meters];
    for (const scope of scopes) {
      for (const meter of meterList) {
        for (const window of windows) {
          const ok = overrideKey(scope, meter, window.period);
          const limit = s.overrides.get(ok) ?? plan.get(ok);
          if (limit === undefined) continue;
          out.push({ key: counterKey(scope, meter, window), scope, meter, window, limit });
        }
      }
    }
    return out;
  }

  private state(t: Touched, used: number): CounterState {
    return {
      scope: t.scope.scope,
      id: t.scope.id,
      meter: t.meter,
      period: t.window.period,
      periodKey: t.window.key,
      limit: t.limit,
      used,
      resetsAt: t.window.resetsAt,
    };
  }

  private keepUsage(s: Shard, usage: UsageDelta[], events: UsageEventRecord[] | undefined): void {
    for (const d of usage) {
      const k = deltaKey(d);
      const cur = s.unflushed.get(k);
      if (cur) {
        cur.delta.amount += d.amount;
        cur.cost += BigInt(d.costPico);
      } else {
        s.unflushed.set(k, { delta: { ...d }, cost: BigInt(d.costPico) });
      }
    }
    if (events) s.events.push(...events);
  }

  async apply(op: ApplyOp): Promise<ApplyResult> {
    const s = this.shard(op.tag);
    const now = op.now;
    if (!this.ensureSeeded(s, op.scopes, op.seed)) return { status: 'needs-seed' };
    this.releaseExpiredReservations(s, now);
    const seen = s.ops.get(op.opId);
    if (seen && (seen.expiresAt === null || seen.expiresAt > now))
      return { status: 'duplicate', outcome: seen.value };
    if (op.settle) this.undoReservation(s, op.settle.id, now);
    if (op.settleIds) for (const id of op.settleIds) this.undoReservation(s, id, now);

    const byMeter = sumByMeter(op.amounts, op.reserve?.amounts, ...(op.reserves ?? []).map((r) => r.amounts));
    const touched = this.touched(s, op.scopes, byMeter.keys(), op.windows, op.limits);
    const opExpiry = now + this.dedupWindowMs;

    if (op.mode === 'enforce') {
      const violations: CounterState[] = [];
      for (const t of touched) {
        const amount = byMeter.get(t.meter) ?? 0;
        const used = this.value(s, t.key, now);
        // amount 0: a gate, refused once a budget (limit > 0; 0 forbids the meter, not the request) is used up.
        const over =
          amount > 0
            ? t.limit >= 0 && used + amount > t.limit
            : amount === 0 && t.limit > 0 && used >= t.limit;
        if (over) {
          const held = s.counters.get(t.key)?.held ?? 0;
          violations.push(held > 0 ? { ...this.state(t, used), held } : this.state(t, used));
        }
      }
      if (violations.length > 0) {
        s.ops.set(op.opId, { value: 'rejected', expiresAt: opExpiry });
        if (op.onReject) this.keepUsage(s, op.onReject.usage, op.onReject.events);
        const firstRejections = violations.filter((v) => {
          const t = touched.find(
            (x) =>
              x.scope.scope === v.scope &&
              x.scope.id === v.id &&
              x.meter === v.meter &&
              x.window.period === v.period,
          )!;
          return this.markOnce(s, t, EXCEEDED_MARK);
        });
        return {
          status: 'rejected',
          violations,
          counters: touched.map((t) => this.state(t, this.value(s, t.key, now))),
          firstRejections,
        };
      }
    }

    const counters: CounterState[] = [];
    const crossed: ThresholdCrossing[] = [];
    const reserved = sumByMeter(op.reserve?.amounts);
    const holding = sumByMeter(op.reserve?.amounts, ...(op.reserves ?? []).map((r) => r.amounts));
    const reservationItems: Array<{ key: string; amount: number }> = [];
    for (const t of touched) {
      const amount = byMeter.get(t.meter) ?? 0;
      const before = this.value(s, t.key, now);
      const after = amount === 0 ? before : this.add(s, t.key, amount, t.window.expiresAt, now);
      const held = reserved.get(t.meter);
      if (held) reservationItems.push({ key: t.key, amount: held });
      counters.push(this.state(t, after));
      const holds = holding.get(t.meter) ?? 0;
      const counter = s.counters.get(t.key);
      if (counter === undefined) continue;
      // Thresholds are crossed by used amounts only: the counter less what reservations hold.
      const usedNow = amount - holds;
      const settled = after - holds - counter.held;
      if (t.limit > 0 && usedNow > 0) {
        for (const threshold of op.warnAt) {
          const mark = threshold * t.limit;
          if ((settled - usedNow) * 100 < mark && settled * 100 >= mark) {
            if (this.markOnce(s, t, threshold)) crossed.push({ ...this.state(t, settled), threshold });
          }
        }
      }
      counter.held += holds;
    }
    if (op.reserve)
      s.reservations.set(op.reserve.id, { expiresAt: op.reserve.expiresAt, items: reservationItems });
    if (op.reserves) for (const r of op.reserves) this.hold(s, r, touched);
    this.keepUsage(s, op.usage, op.events);
    s.ops.set(op.opId, { value: 'applied', expiresAt: opExpiry });
    return { status: 'applied', counters, crossed };
  }

  /** Remembers one of `reserves`: what it holds on each counter the op touched. */
  private hold(
    s: Shard,
    r: { id: string; expiresAt: number; amounts: MeterAmount[] },
    touched: Touched[],
  ): void {
    const amounts = sumByMeter(r.amounts);
    const items: Array<{ key: string; amount: number }> = [];
    for (const t of touched) {
      const held = amounts.get(t.meter);
      if (held) items.push({ key: t.key, amount: held });
    }
    s.reservations.set(r.id, { expiresAt: r.expiresAt, items });
  }

  /** Marks `mark` (a threshold, or EXCEEDED_MARK) on a counter's window; true the first time only. */
  private markOnce(s: Shard, t: Touched, mark: number): boolean {
    let fired = s.fired.get(t.key);
    if (!fired) {
      fired = { value: new Set(), expiresAt: t.window.expiresAt };
      s.fired.set(t.key, fired);
    }
    if (fired.value.has(mark)) return false;
    fired.value.add(mark);
    return true;
  }

  async read(op: ReadOp): Promise<ReadResult> {
    const s = this.shard(op.tag);
    if (!this.ensureSeeded(s, op.scopes, op.seed)) return { status: 'needs-seed' };
    this.releaseExpiredReservations(s, op.now);
    const touched = this.touched(s, op.scopes, op.meters, op.windows, op.limits);
    return { status: 'ok', counters: touched.map((t) => this.state(t, this.value(s, t.key, op.now))) };
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
      this.releaseExpiredReservations(s, now);
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
