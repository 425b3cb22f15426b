// The counters an operation may touch, numbered as the scripts number them (candidate i, from 1).
import type { CounterState, PeriodWindow, ScopeRef } from '@tollgate/core';

/**
 * One counter an operation may touch: it is touched iff it has an effective limit (override or plan). Its key
 * is `<shard stem>:c:<scope>:<id>:<meter>:<period>:<period key>`, built inside the script.
 */
export interface Candidate {
  scope: ScopeRef;
  meter: string;
  window: PeriodWindow;
}

/**
 * Every scope x meter x window, in the order MemoryStore reports counters: the script's candidate i is `at(i - 1)`.
 * Index arithmetic rather than a list, so an operation allocates nothing for counters the reply does not name.
 */
export class Candidates {
  constructor(
    readonly scopes: readonly ScopeRef[],
    readonly meters: readonly string[],
    readonly windows: readonly PeriodWindow[],
  ) {}
  get length(): number {
    return this.scopes.length * this.meters.length * this.windows.length;
  }
  at(i: number): Candidate {
    const w = this.windows.length;
    const m = this.meters.length;
    const window = this.windows[i % w];
    const meter = this.meters[Math.floor(i / w) % m];
    const scope = this.scopes[Math.floor(i / (w * m))];
    if (!window || meter === undefined || !scope) throw new Error(`script named unknown candidate ${i + 1}`);
    return { scope, meter, window };
  }
}

/** A candidate's state as the store reports it. */
export function state(c: Candidate, limit: number, used: number): CounterState {
  return {
    scope: c.scope.scope,
    id: c.scope.id,
    meter: c.meter,
    period: c.window.period,
    periodKey: c.window.key,
    limit,
    used,
    resetsAt: c.window.resetsAt,
  };
}
