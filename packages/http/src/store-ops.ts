// The one builder of the ops the request engine writes to the store: usage sums, settlements, releases, refunds and
// lease closes are all a PendingOp (replayed as they are when the store was down), built here with its defaults.
import type { SplitRequests, ResolvedSubject, UsageRecord } from '@tollgate/core';
import type { PendingOp } from './replay-buffer';

export interface OpFields {
  /** Reservations the op settles: each still held is undone, and `records` count instead. Defaults to none. */
  settles?: string | readonly string[] | null;
  /** Usage to count (on the counters and in the ledger). Defaults to none. */
  records?: UsageRecord[];
  /** Admission leases' `requests`, on the counters or in the ledger alone. Defaults to none. */
  split?: SplitRequests;
  /** `requests` taken back from an admission whose requests never ran. Defaults to none. */
  refund?: number;
  /** When the usage happened. Defaults to now. */
  at?: number;
}

export function storeOp(subject: ResolvedSubject, opId: string, fields: OpFields = {}): PendingOp {
  const settles = fields.settles ?? null;
  const op: PendingOp = {
    subject,
    opId,
    reservationId: typeof settles === 'string' ? settles : null,
    records: fields.records ?? [],
    at: fields.at ?? Date.now(),
  };
  if (settles !== null && typeof settles !== 'string' && settles.length > 0) op.reservationIds = [...settles];
  if (fields.split !== undefined) op.split = fields.split;
  if (fields.refund !== undefined) op.refund = fields.refund;
  return op;
}
