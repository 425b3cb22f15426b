// How big and how long an admission lease is, and what it holds for its requests' estimates: sized to a subject's
// rates, never holding much of the room left before a threshold or a limit, reserved in the window of its grant.
import type { CounterState } from '@tollgate/core';
import type { EstimateRates } from './lease-estimates';

/** A lease never holds more than this share of the room left before the next threshold or limit. */
const ROOM_SHARE = 16;
/**
 * Nor more of an estimated meter than this share: a closed lease's amounts stay held until its calls end, so up to
 * four leases of a subject hold amounts at once (current, spare, two closed: see MAX_WAITING_HELD in leases.ts),
 * at most 1/8 of the room together.
 */
const AMOUNT_ROOM_SHARE = 32;
const MIN_UNITS = 4;
/**
 * A lease lasts long enough for about this many requests (up to 4 x leaseMs): at a few hundred requests per
 * second a short lease would cost a store op per handful of requests, and those ops, not the requests, would
 * set the latency tail.
 */
const LEASE_MIN_COVER = 64;
/** The longest a lease lasts, as a multiple of leaseMs (with the default, 200 ms: the counts' longest lag). */
export const MAX_PERIOD_FACTOR = 4;
const MAX_UNITS = 10_000;

/** The next minute boundary after `now`: every period's window ends on one, in every time zone. */
export function minuteEnd(now: number): number {
  return Math.floor(now / 60_000) * 60_000 + 60_000;
}

/**
 * Units a new lease may take: 1.5 times the recent rate over a period, at most 1/16 of the room left before the
 * next `warnAt` threshold (or the limit) of any `requests` limit, so a threshold fires soon after the requests
 * that reach it (held units cross nothing; the op that counts them does) and a lease never holds room that other
 * instances near the limit need. 0 when that is too little to be worth it.
 */
export function leaseUnits(
  rate: number,
  periodMs: number,
  counters: readonly CounterState[],
  warnAt: readonly number[],
): number {
  const units = Math.min(
    MAX_UNITS,
    Math.ceil(rate * periodMs * 1.5),
    roomShare('requests', counters, warnAt, ROOM_SHARE),
  );
  return units >= MIN_UNITS ? units : 0;
}

/**
 * What a lease may hold of `meter` (tokens, cost) for the estimates of its requests: 1.5 times their recent rate
 * over a period (`rate` in units per ms), within 1/32 of the room before its next threshold or limit; 0 when that is less
 * than MIN_UNITS estimates of `perRequest` (estimated requests are then admitted by the store, one op per group).
 */
export function leaseAmount(
  meter: string,
  rate: number,
  perRequest: number,
  periodMs: number,
  counters: readonly CounterState[],
  warnAt: readonly number[],
): number {
  const wanted = Math.ceil(rate * periodMs * 1.5);
  if (!Number.isSafeInteger(wanted)) return 0;
  const amount = Math.min(wanted, roomShare(meter, counters, warnAt, AMOUNT_ROOM_SHARE));
  return amount >= MIN_UNITS * perRequest ? amount : 0;
}

/**
 * What a lease holds of each meter `estimates` named (see leaseAmount), and how many average estimates that covers;
 * null when none was named, or when any meter's amount would be too little for a few estimates.
 */
export function leaseAmounts(
  estimates: EstimateRates,
  periodMs: number,
  counters: readonly CounterState[],
  warnAt: readonly number[],
): { held: Map<string, number>; covers: number } | null {
  const rates = estimates.amounts;
  if (rates === null || estimates.rate === 0) return null;
  const held = new Map<string, number>();
  let covers = Number.MAX_SAFE_INTEGER;
  for (const [meter, rate] of rates) {
    const perRequest = rate / estimates.rate;
    const amount = leaseAmount(meter, rate, perRequest, periodMs, counters, warnAt);
    if (amount === 0) return null;
    held.set(meter, amount);
    covers = Math.min(covers, Math.floor(amount / perRequest));
  }
  return { held, covers };
}

/** 1/`share` of the room left before the next `warnAt` threshold (or the limit) of every limit of `meter`. */
function roomShare(
  meter: string,
  counters: readonly CounterState[],
  warnAt: readonly number[],
  share: number,
): number {
  let least = Number.MAX_SAFE_INTEGER;
  for (const c of counters) {
    if (c.meter !== meter || c.limit < 0) continue;
    let next = c.limit;
    for (const w of warnAt) {
      const level = (c.limit * w) / 100;
      if (level > c.used && level < next) next = level;
    }
    least = Math.min(least, Math.floor((next - c.used) / share));
  }
  return least;
}

/** A lease's period at `rate` (requests per ms): `leaseMs`, or long enough for LEASE_MIN_COVER requests (at most 4 x). */
export function leasePeriod(rate: number, leaseMs: number): number {
  if (rate <= 0) return leaseMs;
  return Math.min(leaseMs * MAX_PERIOD_FACTOR, Math.max(leaseMs, Math.ceil(LEASE_MIN_COVER / rate)));
}
