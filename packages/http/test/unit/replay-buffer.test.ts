// The fail-open buffer never holds more than its capacity, even while a replay that will fail is in flight.
import type { ResolvedSubject } from '@tollgate/core';
import { ReplayBuffer, type PendingOp } from '../../src/replay-buffer';

const op = (i: number): PendingOp => ({
  subject: {} as ResolvedSubject,
  opId: `op-${i}`,
  reservationId: null,
  records: [{ meter: 'requests', amount: 1 }],
  at: 0,
});

describe('ReplayBuffer', () => {
  it('keeps the places of ops out for replay, so a failed replay puts them back within the capacity', () => {
    const buffer = new ReplayBuffer(3);
    expect([0, 1, 2, 3].map((i) => buffer.push(op(i)))).toEqual([true, true, true, false]);
    const batch = buffer.take(2);
    expect(buffer.size).toBe(1);
    // While the two replay, new usage finds the buffer full.
    expect(buffer.push(op(4))).toBe(false);
    buffer.release(batch.length, batch);
    expect(buffer.size).toBe(3);
    expect(buffer.push(op(5))).toBe(false);
  });

  it('frees the places of ops that replayed', () => {
    const buffer = new ReplayBuffer(2);
    buffer.push(op(0));
    buffer.push(op(1));
    const batch = buffer.take(2);
    buffer.release(batch.length, [batch[1]!]);
    expect(buffer.size).toBe(1);
    expect(buffer.push(op(2))).toBe(true);
    expect(buffer.push(op(3))).toBe(false);
    expect(buffer.take(5).map((o) => o.opId)).toEqual(['op-1', 'op-2']);
  });
});
