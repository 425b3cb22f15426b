// Recording: `record`, `settle` and `release`, the `record`-mode ops that count usage and are never rejected.
import { randomUUID } from 'node:crypto';
import type { ApplyOp, CounterState, ThresholdCrossing, UsageEventRecord } from '../store';
import type { Identity, ResolvedSubject } from '../subject';
import { expandUsage, type UsageRecord } from '../usage';
import { afterRejectionIdOf } from './op-ids';
import type { EngineParts } from './parts';

/**
 * `requests` of admission leases, whose two halves are written apart: the counters learn a lease's used units when
 * it closes (its reservation held them until then), the ledger learns each request's unit as its response ends.
 * `countersOnly` may be negative (a unit given back); `ledgerOnly` is never.
 */
export interface SplitRequests {
  countersOnly?: number;
  ledgerOnly?: number;
}

export interface RecordResult {
  counters: CounterState[];
  thresholds: ThresholdCrossing[];
  unpriced: string[];
  costPico: bigint;
  duplicate: boolean;
}

/** What one record-mode op carries besides its usage records. */
export interface RecordOpOptions {
  opId?: string;
  /** Reservations undone first: one id, several (settled in one op), or none (null or ''). */
  settle?: string | readonly string[] | null;
  events?: UsageEventRecord[];
  /** When the usage happened (replays of buffered usage keep their original window and hour bucket). */
  at?: number;
  split?: SplitRequests;
}

/** Applies `records` as usage (never rejected), settling reservations and keeping events with them. */
export async function recordOp(
  parts: EngineParts,
  identity: Identity | ResolvedSubject,
  records: UsageRecord[],
  opts: RecordOpOptions,
): Promise<RecordResult> {
  const { ctx, seeder, events } = parts;
  const subject = ctx.subjectOf(identity);
  const now = opts.at ?? ctx.now();
  const usage = expandUsage(
    ctx.config,
    ctx.prices,
    { tenantId: subject.tenantId, userId: subject.userId, keyId: subject.apiKeyId },
    records,
    now,
  );
  const op = ctx.applyOp(subject, now, opts.opId ?? randomUUID(), 'record', usage.amounts, usage.deltas);
  if (opts.split !== undefined) splitRequests(parts, op, subject, opts.split, now);
  const settleId = opts.settle ?? null;
  if (typeof settleId === 'string') {
    if (settleId !== '') op.settle = { id: settleId };
  } else if (settleId !== null && settleId.length > 0) {
    // One id keeps the single-settle shape every store has always understood.
    if (settleId.length === 1) op.settle = { id: settleId[0]! };
    else op.settleIds = [...settleId];
  }
  if (opts.events && opts.events.length > 0) op.events = opts.events;
  let result = await seeder.seededApply(subject, op);
  if (result.status === 'duplicate' && result.outcome === 'rejected') {
    // The id is an admission's that the store turned down while its caller, hearing nothing in time, admitted
    // the request anyway (fail-open) and now replays its usage under that id: this usage is new. Its own derived
    // id keeps the replay itself idempotent.
    op.opId = afterRejectionIdOf(op.opId);
    result = await seeder.seededApply(subject, op);
  }
  const applied = result.status === 'applied' ? result : null;
  if (applied !== null) await events.thresholds(subject, applied.crossed, now);
  return {
    counters: applied?.counters ?? [],
    thresholds: applied?.crossed ?? [],
    unpriced: usage.unpriced,
    costPico: usage.costPico,
    duplicate: result.status === 'duplicate',
  };
}

/** Adds `requests` counted on the counters alone and `requests` kept for the ledger alone (see SplitRequests). */
function splitRequests(
  { ctx }: EngineParts,
  op: ApplyOp,
  subject: ResolvedSubject,
  split: SplitRequests,
  now: number,
): void {
  const counters = split.countersOnly ?? 0;
  if (counters !== 0) {
    const cur = op.amounts.find((a) => a.meter === 'requests');
    if (cur !== undefined) cur.amount += counters;
    else op.amounts = [...op.amounts, { meter: 'requests', amount: counters }];
  }
  const ledger = split.ledgerOnly ?? 0;
  if (ledger > 0) {
    // The same owner as the op's other usage: a call with an API key is the key's in the ledger too.
    const owner = { tenantId: subject.tenantId, userId: subject.userId, keyId: subject.apiKeyId };
    const records = [{ meter: 'requests', amount: ledger }];
    op.usage = [...op.usage, ...expandUsage(ctx.config, ctx.prices, owner, records, now).deltas];
  }
}
