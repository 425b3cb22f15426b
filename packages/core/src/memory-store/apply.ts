// MemoryStore's `apply`: the CounterStore's numbered atomic steps (store.ts) on one shard, in one synchronous call.
import { InvalidUsageError } from '../errors';
import type {
  ApplyOp,
  ApplyResult,
  CounterState,
  MeterAmount,
  ThresholdCrossing,
  UsageDelta,
} from '../store';
import {
  addTo,
  ensureSeeded,
  keepUsage,
  markOnce,
  releaseExpiredReservations,
  stateOf,
  sumByMeter,
  touchedCounters,
  undoReservation,
  valueOf,
  type Shard,
  type Touched,
} from './shard';

/** Mark for "rejected by this counter in this window" beside the percent thresholds. */
const EXCEEDED_MARK = -1;

/**
 * Refuses, before anything changes, an op the Redis store would refuse to encode: usage amounts that are not safe
 * integers, costs that are not integer strings (they are kept as BigInt, which would throw halfway through).
 */
function checkUsage(usage: readonly UsageDelta[]): void {
  for (const d of usage) {
    if (!Number.isSafeInteger(d.amount))
      throw new InvalidUsageError(`usage amount must be a safe integer, got ${d.amount}`);
    if (typeof d.costPico !== 'string' || !/^-?\d+$/.test(d.costPico))
      throw new InvalidUsageError('costPico must be an integer string');
  }
}

/** Applies `op` to shard `s`; op ids are remembered for `dedupWindowMs`. */
export function applyToShard(s: Shard, op: ApplyOp, dedupWindowMs: number): ApplyResult {
  const now = op.now;
  checkUsage(op.usage);
  if (op.onReject) checkUsage(op.onReject.usage);
  if (!ensureSeeded(s, op.scopes, op.seed)) return { status: 'needs-seed' };
  releaseExpiredReservations(s, now);
  const seen = s.ops.get(op.opId);
  if (seen && (seen.expiresAt === null || seen.expiresAt > now))
    return { status: 'duplicate', outcome: seen.value };
  if (op.settle) undoReservation(s, op.settle.id, now);
  if (op.settleIds) for (const id of op.settleIds) undoReservation(s, id, now);

  const byMeter = sumByMeter(op.amounts, op.reserve?.amounts, ...(op.reserves ?? []).map((r) => r.amounts));
  const touched = touchedCounters(s, op.scopes, byMeter.keys(), op.windows, op.limits);
  const opExpiry = now + dedupWindowMs;

  if (op.mode === 'enforce') {
    const violations: CounterState[] = [];
    for (const t of touched) {
      const amount = byMeter.get(t.meter) ?? 0;
      const used = valueOf(s, t.key, now);
      // amount 0: a gate, refused once a budget (limit > 0; 0 forbids the meter, not the request) is used up.
      const over =
        amount > 0 ? t.limit >= 0 && used + amount > t.limit : amount === 0 && t.limit > 0 && used >= t.limit;
      if (over) {
        const held = s.counters.get(t.key)?.held ?? 0;
        violations.push(held > 0 ? { ...stateOf(t, used), held } : stateOf(t, used));
      }
    }
    if (violations.length > 0) {
      s.ops.set(op.opId, { value: 'rejected', expiresAt: opExpiry });
      if (op.onReject) keepUsage(s, op.onReject.usage, op.onReject.events);
      const firstRejections = violations.filter((v) => {
        const t = touched.find(
          (x) =>
            x.scope.scope === v.scope &&
            x.scope.id === v.id &&
            x.meter === v.meter &&
            x.window.period === v.period,
        )!;
        return markOnce(s, t, EXCEEDED_MARK);
      });
      return {
        status: 'rejected',
        violations,
        counters: touched.map((t) => stateOf(t, valueOf(s, t.key, now))),
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
    const before = valueOf(s, t.key, now);
    const after = amount === 0 ? before : addTo(s, t.key, amount, t.window.expiresAt, now);
    const held = reserved.get(t.meter);
    if (held) reservationItems.push({ key: t.key, amount: held });
    counters.push(stateOf(t, after));
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
          if (markOnce(s, t, threshold)) crossed.push({ ...stateOf(t, settled), threshold });
        }
      }
    }
    counter.held += holds;
  }
  if (op.reserve)
    s.reservations.set(op.reserve.id, { expiresAt: op.reserve.expiresAt, items: reservationItems });
  if (op.reserves) for (const r of op.reserves) hold(s, r, touched);
  keepUsage(s, op.usage, op.events);
  s.ops.set(op.opId, { value: 'applied', expiresAt: opExpiry });
  return { status: 'applied', counters, crossed };
}

/** Remembers one of `reserves`: what it holds on each counter the op touched. */
function hold(
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
