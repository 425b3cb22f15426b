// One shard of the MemoryStore: its state, the keys inside it, and the primitives every operation is built from.
import type { Period, PeriodWindow } from '../periods';
import type {
  ClaimedBatch,
  CounterState,
  LimitSpec,
  MeterAmount,
  ScopeRef,
  UsageDelta,
  UsageEventRecord,
} from '../store';

export interface Expiring<T> {
  value: T;
  expiresAt: number | null;
}

/** A counter: `value` is what admission compares (used plus held); `held` is the part reservations hold. */
export interface Counter extends Expiring<number> {
  held: number;
}

export interface Shard {
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
export interface Touched {
  key: string;
  scope: ScopeRef;
  meter: string;
  window: PeriodWindow;
  limit: number;
}

const SEP = '\u0000';

export function newShard(): Shard {
  return {
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
}

export function counterKey(s: ScopeRef, meter: string, w: PeriodWindow): string {
  return [s.scope, s.id, meter, w.period, w.key].join(SEP);
}

export function scopeKey(s: ScopeRef): string {
  return `${s.scope}${SEP}${s.id}`;
}

export function overrideKey(s: ScopeRef, meter: string, period: Period): string {
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

export function sumByMeter(...lists: Array<MeterAmount[] | undefined>): Map<string, number> {
  const out = new Map<string, number>();
  for (const list of lists) for (const a of list ?? []) out.set(a.meter, (out.get(a.meter) ?? 0) + a.amount);
  return out;
}

/** Whether every scope is seeded; with `auto`, the missing ones are marked seeded at once. */
export function ensureSeeded(s: Shard, scopes: ScopeRef[], mode: 'auto' | 'required'): boolean {
  const missing = scopes.filter((sc) => !s.seeded.has(scopeKey(sc)));
  if (missing.length === 0) return true;
  if (mode === 'required') return false;
  for (const sc of missing) s.seeded.add(scopeKey(sc));
  return true;
}

/** A counter's value now (an expired one is dropped and reads 0). */
export function valueOf(s: Shard, key: string, now: number): number {
  const c = s.counters.get(key);
  if (!c) return 0;
  if (c.expiresAt !== null && c.expiresAt <= now) {
    s.counters.delete(key);
    return 0;
  }
  return c.value;
}

export function addTo(s: Shard, key: string, amount: number, expiresAt: number | null, now: number): number {
  const next = valueOf(s, key, now) + amount;
  const c = s.counters.get(key);
  if (c) {
    c.value = next;
    c.expiresAt = expiresAt;
  } else {
    s.counters.set(key, { value: next, held: 0, expiresAt });
  }
  return next;
}

export function releaseExpiredReservations(s: Shard, now: number): void {
  for (const [id, r] of s.reservations) {
    if (r.expiresAt <= now) undoReservation(s, id, now);
  }
}

export function undoReservation(s: Shard, id: string, now: number): void {
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

/** Every counter of `scopes` x `meters` x `windows` that has an effective limit (override, else plan). */
export function touchedCounters(
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

export function stateOf(t: Touched, used: number): CounterState {
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

/** Adds usage deltas (merged by ledger row) and events to what the next claim hands out. */
export function keepUsage(s: Shard, usage: UsageDelta[], events: UsageEventRecord[] | undefined): void {
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

/** Marks `mark` (a threshold, or EXCEEDED_MARK) on a counter's window; true the first time only. */
export function markOnce(s: Shard, t: Touched, mark: number): boolean {
  let fired = s.fired.get(t.key);
  if (!fired) {
    fired = { value: new Set(), expiresAt: t.window.expiresAt };
    s.fired.set(t.key, fired);
  }
  if (fired.value.has(mark)) return false;
  fired.value.add(mark);
  return true;
}
