// A counter held against its limit: whether a gate's budget is spent, the percentage used, which violation a 429 names.
import type { CounterState } from '../store';

/** Picks the violation named in a 429: the one that resets last (`total`, never resetting, first). */
export function latestResetting<T extends { resetsAt: number | null }>(list: readonly T[]): T {
  let best = list[0]!;
  for (const v of list) {
    if (best.resetsAt === null) break;
    if (v.resetsAt === null || v.resetsAt > best.resetsAt) best = v;
  }
  return best;
}

/** 0-100 with at most two decimals; unlimited is 0. */
export function percentage(used: number, limit: number): number {
  if (limit < 0) return 0;
  if (limit === 0) return used > 0 ? 100 : 0;
  return Math.round((used / limit) * 10_000) / 100;
}

/** A gate's budget is used up (a limit of 0 forbids its meter, it gates nothing; see ApplyOp.amounts). */
export function isSpent(c: CounterState): boolean {
  return c.limit > 0 && c.used >= c.limit;
}
