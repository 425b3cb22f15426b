// Operation ids: unique across processes (random prefix) and cheap per request (a counter, no UUID per call); and
// every id derived from another, named here, so no two kinds of op can ever share one.
import { randomBytes } from 'node:crypto';

/** Yields ids like `k3f9a1c2e0b4d5a6.1z`; every id a store sees is unique, so it applies each at most once. */
export class OpIds {
  private readonly prefix = `k${randomBytes(8).toString('hex')}.`;
  private seq = 0;

  next(): string {
    this.seq += 1;
    return this.prefix + this.seq.toString(36);
  }
}

/** The reservation of the `index`-th request of an admission op (its estimate), settled by that request. */
export function reservationIdOf(opId: string, index: number): string {
  return `${opId}.${index}`;
}

/** The op that takes back what admission `opId` counted for requests that never ran (clients gone). */
export function refundIdOf(opId: string): string {
  return `${opId}.x`;
}

/** The op that counts a lease's used units and releases the rest (or gives back a lease that may exist). */
export function leaseCloseIdOf(leaseId: string): string {
  return `${leaseId}.c`;
}

/** The op that releases a `usage.reserve()` reservation whose request had ended. */
export function releaseIdOf(reservationId: string): string {
  return `${reservationId}.r`;
}

/** `settleReservation()`'s default op id: a retry of the same settlement changes nothing. */
export function settleIdOf(reservationId: string): string {
  return `${reservationId}.settle`;
}

// `.after-rejection` is taken too: the engine derives it (core's engine/op-ids.ts).

/**
 * The id under which usage replayed after a fail-open admission is applied when the store had rejected that
 * admission's op id (the usage is new; this id keeps its own replays idempotent).
 */
export function afterRejectionIdOf(opId: string): string {
  return `${opId}.after-rejection`;
}
