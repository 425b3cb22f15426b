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
 * `groups`, when given, are the scope x meter groups sent (each `scope index * meters + meter index`, ascending):
 * the lean form leaves out groups without a plan limit.
 */
export class Candidates {
  constructor(
    readonly scopes: readonly ScopeRef[],
    readonly meters: readonly string[],
    readonly windows: readonly PeriodWindow[],
    readonly groups: readonly number[] | null = null,
  ) {}
  get length(): number {
    const groups = this.groups === null ? this.scopes.length * this.meters.length : this.groups.length;
    return groups * this.windows.length;
  }
  at(i: number): Candidate {
    const w = this.windows.length;
    const m = this.meters.length;
    const sent = Math.floor(i / w);
    const group = this.groups === null ? sent : this.groups[sent];
    const window = this.windows[i % w];
    const meter = group === undefined ? undefined : this.meters[group % m];
    const scope = group === undefined ? undefined : this.scopes[Math.floor(group / m)];
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
