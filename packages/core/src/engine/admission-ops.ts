// Admission: `consume`, the atomic check-and-consume (with reservations) across every limit of a subject.
import { randomUUID } from 'node:crypto';
import { isConfiguredMeter, type TollgateConfig } from '../config';
import { InvalidUsageError } from '../errors';
import type { CounterState, MeterAmount, Scope, ThresholdCrossing } from '../store';
import type { Identity, ResolvedSubject } from '../subject';
import { expandUsage, type UsageRecord } from '../usage';
import { isSpent, latestResetting } from './limits';
import type { EngineParts } from './parts';
import { readCounters } from './queries';
import { counterEvent } from './threshold-events';

export interface Violation extends CounterState {
  scope: Scope;
}

export type Admission =
  | {
      admitted: true;
      reservationId: string | null;
      counters: CounterState[];
      thresholds: ThresholdCrossing[];
      /** True when this op id had already been applied (a retry or replay). */
      duplicate: boolean;
    }
  | { admitted: false; violation: Violation; counters: CounterState[]; duplicate: boolean };

export interface ConsumeOptions {
  opId?: string;
  /** Amounts known only later (tokens, cost), held against the limits until settled. */
  reserve?: Record<string, number>;
  /** Id of the reservation, so a caller can settle it even when this call's answer was lost. Defaults to a random id. */
  reservationId?: string;
  reservationTtlMs?: number;
  /**
   * More reservations held by this one op, each under its own id (several requests admitted together, each
   * settling its own estimate later): all are held with the admission, or none. Defaults to none.
   */
  reserves?: Array<{ id: string; amounts: Record<string, number> }>;
  /** Extra ledger records kept when admitted (beyond the consumed amounts). */
  records?: UsageRecord[];
  /**
   * Count a rejection in `rejected` (the ledger). False for ops no request stands behind (an admission lease
   * that does not fit rejects no request). Defaults to true.
   */
  countRejected?: boolean;
}

/** The amounts of configured meters, each a non-negative integer (zeros dropped), or InvalidUsageError. */
function toAmounts(config: TollgateConfig, values: Record<string, number> | undefined): MeterAmount[] {
  const out: MeterAmount[] = [];
  for (const [meter, amount] of Object.entries(values ?? {})) {
    if (!isConfiguredMeter(config, meter)) throw new InvalidUsageError(`unknown meter "${meter}"`);
    if (!Number.isSafeInteger(amount) || amount < 0) {
      throw new InvalidUsageError(`amount for "${meter}" must be a non-negative integer, got ${amount}`);
    }
    if (amount > 0) out.push({ meter, amount });
  }
  return out;
}

/**
 * Throws InvalidUsageError unless every amount of `values` is a non-negative integer of a configured meter: what
 * `consume` would throw for them as `reserve`, checked before they join an op that admits other requests too.
 */
export function checkAmounts(config: TollgateConfig, values: Record<string, number>): void {
  toAmounts(config, values);
}

/**
 * Atomic check-and-consume across every applicable limit: admitted only if every limit has room
 * for `amounts` plus `opts.reserve`; a rejection consumes nothing (it counts in `rejected`).
 */
export async function consume(
  parts: EngineParts,
  identity: Identity | ResolvedSubject,
  amounts: Record<string, number>,
  opts: ConsumeOptions,
): Promise<Admission> {
  const { ctx, seeder, events } = parts;
  const { config, prices } = ctx;
  const subject = ctx.subjectOf(identity);
  const now = ctx.now();
  const owner = { tenantId: subject.tenantId, userId: subject.userId, keyId: subject.apiKeyId };
  const consumed = toAmounts(config, amounts);
  const reserveAmounts = toAmounts(config, opts.reserve);
  const records: UsageRecord[] = [
    ...consumed.map((a) => ({ meter: a.meter, amount: a.amount })),
    ...(opts.records ?? []),
  ];
  const usage = expandUsage(config, prices, owner, records, now);
  const reservationId = reserveAmounts.length > 0 ? (opts.reservationId ?? randomUUID()) : null;
  const op = ctx.applyOp(subject, now, opts.opId ?? randomUUID(), 'enforce', usage.amounts, usage.deltas);
  // A request is admitted only while every limit of its subject has room: the other limited meters it takes
  // nothing from (a used-up token budget) gate it, and so they gate an admission lease's block of requests. A
  // handler's own reservation (no `requests`) is not gated.
  const takesRequests =
    consumed.some((a) => a.meter === 'requests') || reserveAmounts.some((a) => a.meter === 'requests');
  if (takesRequests) op.amounts = withGates(op.amounts, subject.gates, opts);
  if (opts.countRejected !== false) {
    const rejected = expandUsage(config, prices, owner, [{ meter: 'rejected', amount: 1 }], now);
    op.onReject = { usage: rejected.deltas, events: [] };
  }
  if (reservationId) {
    op.reserve = {
      id: reservationId,
      expiresAt: now + (opts.reservationTtlMs ?? ctx.reservationTtlMs),
      amounts: reserveAmounts,
    };
  }
  if (opts.reserves !== undefined && opts.reserves.length > 0) {
    const expiresAt = now + (opts.reservationTtlMs ?? ctx.reservationTtlMs);
    op.reserves = [];
    for (const r of opts.reserves) {
      const held = toAmounts(config, r.amounts);
      if (held.length > 0) op.reserves.push({ id: r.id, expiresAt, amounts: held });
    }
  }
  const result = await seeder.seededApply(subject, op);
  if (result.status === 'duplicate') {
    if (result.outcome === 'applied') {
      // A retry still learns the reservation to settle, when its id was the caller's (a random one is not known).
      const held = reservationId !== null && opts.reservationId !== undefined ? reservationId : null;
      return { admitted: true, reservationId: held, counters: [], thresholds: [], duplicate: true };
    }
    const gates = takesRequests ? subject.gates.map((meter) => ({ meter, amount: 0 })) : [];
    return repeatedRejection(parts, subject, [...consumed, ...reserveAmounts, ...gates]);
  }
  if (result.status === 'rejected') {
    const first = result.firstRejections ?? [];
    if (first.length > 0) {
      await events.keep(
        subject,
        first.map((c) => counterEvent('quota_exceeded', subject, c, now)),
      );
    }
    return {
      admitted: false,
      violation: latestResetting(result.violations),
      counters: result.counters,
      duplicate: false,
    };
  }
  await events.thresholds(subject, result.crossed, now);
  return {
    admitted: true,
    reservationId,
    counters: result.counters,
    thresholds: result.crossed,
    duplicate: false,
  };
}

/**
 * The answer to an op id the store had already rejected (a retry with the same idempotency key): rejected again,
 * naming the limit that the amounts pass now (read afresh; the first answer's counters were not kept), or, when
 * they fit by now, the tightest limit they take from.
 */
async function repeatedRejection(
  parts: EngineParts,
  subject: ResolvedSubject,
  wanted: ReadonlyArray<{ meter: string; amount: number }>,
): Promise<Admission> {
  const { counters } = await readCounters(parts, subject);
  const taken = counters.filter((c) => c.limit >= 0 && wanted.some((w) => w.meter === c.meter));
  const passed = taken.filter((c) => {
    const need = wanted.reduce((sum, w) => (w.meter === c.meter ? sum + w.amount : sum), 0);
    return need > 0 ? c.used + need > c.limit : isSpent(c); // need 0: a gate
  });
  const named = passed.length > 0 ? passed : taken;
  const violation: Violation = named.length > 0 ? latestResetting(named) : emptyViolation(subject);
  return { admitted: false, violation, counters, duplicate: true };
}

/** `amounts` plus an amount-0 gate for each of `gates` that the op takes nothing from (see ApplyOp.amounts). */
function withGates(amounts: MeterAmount[], gates: readonly string[], opts: ConsumeOptions): MeterAmount[] {
  if (gates.length === 0) return amounts;
  const taken = (meter: string) =>
    amounts.some((a) => a.meter === meter) ||
    (opts.reserve?.[meter] ?? 0) > 0 ||
    (opts.reserves ?? []).some((r) => (r.amounts[meter] ?? 0) > 0);
  const out = [...amounts];
  for (const meter of gates) if (!taken(meter)) out.push({ meter, amount: 0 });
  return out;
}

function emptyViolation(subject: ResolvedSubject): Violation {
  return {
    scope: subject.owner.scope,
    id: subject.owner.id,
    meter: 'requests',
    period: 'total',
    periodKey: '0',
    limit: 0,
    used: 0,
    resetsAt: null,
  };
}
