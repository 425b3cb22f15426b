// The fail-open buffer: settlement operations kept in process while the store is unreachable, bounded.
import type { SplitRequests, ResolvedSubject, UsageRecord } from '@tollgate/core';

/** One settlement, replayed with the same op id (so a store that already applied it changes nothing). */
export interface PendingOp {
  subject: ResolvedSubject;
  opId: string;
  /** Reservation to settle (undo, then record `records` as actual usage); null to just record. */
  reservationId: string | null;
  /** More reservations settled by the same op (many requests of one subject, summed in `records`). */
  reservationIds?: string[];
  records: UsageRecord[];
  /** Admission leases' `requests`, counted on the counters or in the ledger alone (see SplitRequests). */
  split?: SplitRequests;
  /** When the usage happened: the replay counts it in that window and hour. */
  at: number;
  /**
   * Takes back this many `requests` consumed by an admission whose requests never ran (the client left
   * while it was in flight). Applied as a correction op (negative amount), with the reservation release.
   */
  refund?: number;
}

/**
 * A FIFO with a hard capacity; `push` refuses (and the caller counts a drop) when full. Ops out for replay keep their
 * place until released, so a replay that fails puts them back without going over the capacity.
 */
export class ReplayBuffer {
  private items: Array<PendingOp | undefined> = [];
  private head = 0;
  /** Taken by `take` and not yet released. */
  private out = 0;

  constructor(readonly capacity: number) {}

  /** Ops waiting for replay (not counting those being replayed). */
  get size(): number {
    return this.items.length - this.head;
  }

  /** False when full: the op is dropped. */
  push(op: PendingOp): boolean {
    if (this.size + this.out >= this.capacity) return false;
    this.items.push(op);
    return true;
  }

  /** Ends the replay of `taken` ops from `take`: the `failed` ones go back in (their places were kept), the rest are gone. */
  release(taken: number, failed: readonly PendingOp[]): void {
    this.out -= taken;
    for (const op of failed) this.items.push(op);
  }

  /** Removes and returns up to `n` of the oldest ops; `release` ends their replay. */
  take(n: number): PendingOp[] {
    const end = Math.min(this.items.length, this.head + n);
    const out = this.items.slice(this.head, end) as PendingOp[];
    for (let i = this.head; i < end; i++) this.items[i] = undefined;
    this.head = end;
    this.out += out.length;
    // Compact once the consumed prefix dominates, so memory follows the live size.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}
