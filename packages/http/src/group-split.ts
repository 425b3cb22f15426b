// A refused group of one subject's requests, split as one-by-one admissions in order would have decided it; and the
// reservations an admission op holds for its requests' estimates.
import type { Violation, CounterState } from '@tollgate/core';
import { reservationIdOf, latestResetting, isSpent } from '@tollgate/core/internal';
import type { RequestTicket } from './ticket';

/** What one request takes from `meter` at admission: one `requests`, plus its estimate. */
function need<Res>(t: RequestTicket<Res>, meter: string): number {
  const held = t.estimate?.[meter] ?? 0;
  const amount = meter === 'requests' ? 1 + held : held;
  return Number.isSafeInteger(amount) && amount > 0 ? amount : 0;
}

/**
 * Splits a rejected group by the counters its rejection showed: in order, each request is kept if it still fits
 * every limit on top of the ones kept before it (as one-by-one admissions in that order would decide), and
 * otherwise rejected with the limit it would pass (the one resetting last). A rejected request's limit, and `after`
 * (the counters for the rejections' headers), count what the kept requests take, as one-by-one admissions would
 * see it: a 429 never shows room that its own group's admitted requests are taking.
 */
export function split<Res>(
  tickets: Array<RequestTicket<Res>>,
  counters: readonly CounterState[],
  gates: readonly string[],
): { fit: Array<RequestTicket<Res>>; over: Map<RequestTicket<Res>, Violation>; after: CounterState[] } {
  // A spent budget (a gate) refuses every request of the group, whatever room `requests` has: none is kept, and
  // each names it (or a limit it passes itself that resets later).
  const spent = counters.filter((c) => gates.includes(c.meter) && isSpent(c));
  const limited = counters.filter((c) => c.limit >= 0);
  const taken = limited.map(() => 0);
  // Each limited counter as the requests kept so far leave it (one object per change, shared by the rejections).
  const seen: Array<CounterState | null> = [...limited];
  const seenAt = (i: number): CounterState =>
    (seen[i] ??= { ...limited[i]!, used: limited[i]!.used + taken[i]! });
  const fit: Array<RequestTicket<Res>> = [];
  const over = new Map<RequestTicket<Res>, Violation>();
  for (const t of tickets) {
    if (t.closedEarly) continue;
    let passed: CounterState[] | null = spent.length > 0 ? [...spent] : null;
    for (let i = 0; i < limited.length; i++) {
      const c = limited[i]!;
      const n = need(t, c.meter);
      if (n > 0 && c.used + taken[i]! + n > c.limit) (passed ??= []).push(seenAt(i));
    }
    if (passed !== null) {
      over.set(t, latestResetting(passed));
      continue;
    }
    fit.push(t);
    for (let i = 0; i < limited.length; i++) {
      const n = need(t, limited[i]!.meter);
      if (n === 0) continue;
      taken[i] = taken[i]! + n;
      seen[i] = null;
    }
  }
  const after = counters.map((c) => {
    const i = limited.indexOf(c);
    return i < 0 ? c : seenAt(i);
  });
  return { fit, over, after };
}

/** The op's reservation for each ticket with an estimate (ids derived from the op id), or null when none has one. */
export function reservesOf<Res>(
  tickets: Array<RequestTicket<Res>>,
  opId: string,
): Array<{ id: string; amounts: Record<string, number> }> | null {
  let out: Array<{ id: string; amounts: Record<string, number> }> | null = null;
  for (let i = 0; i < tickets.length; i++) {
    const estimate = tickets[i]!.estimate;
    if (estimate !== null) (out ??= []).push({ id: reservationIdOf(opId, i), amounts: estimate });
  }
  return out;
}
