// How big an admission lease may be: sized to the subject's rate, never more than 1/16 of the room left before the
// next warnAt threshold or the limit of any `requests` counter.
import type { CounterState } from '@tollgate/core';
import { leaseAmount, leasePeriod, leaseUnits } from '../../src/lease-sizing';

function counter(limit: number, used: number, period: CounterState['period'] = 'day'): CounterState {
  return { scope: 'tenant', id: 't', meter: 'requests', period, periodKey: '0', limit, used, resetsAt: null };
}

describe('leaseUnits', () => {
  it('is 1.5 times what the subject sends in one lease period when the room is large', () => {
    // 2 requests/ms over 10 ms -> 30 units.
    expect(leaseUnits(2, 10, [counter(1e9, 0)], [80, 100])).toBe(30);
    expect(leaseUnits(2, 10, [counter(-1, 0)], [80, 100])).toBe(30);
  });

  it('takes at most 1/16 of the room before the next threshold, then before the limit', () => {
    // Next threshold: 80% of 1000 = 800; room 800 - 160 = 640 -> 40.
    expect(leaseUnits(100, 10, [counter(1000, 160)], [80, 100])).toBe(40);
    // Past 80%: the limit is next; room 1000 - 840 = 160 -> 10.
    expect(leaseUnits(100, 10, [counter(1000, 840)], [80, 100])).toBe(10);
    // No warnAt: only the limit counts.
    expect(leaseUnits(100, 10, [counter(1000, 160)], [])).toBe(52);
  });

  it('follows the tightest of several limits (periods, scopes)', () => {
    const counters = [counter(1e6, 10, 'month'), counter(2000, 1000, 'minute'), counter(1e5, 5, 'day')];
    // minute: next threshold 100% (1000 is past 50%), room 1000 -> 62.
    expect(leaseUnits(100, 10, counters, [50, 100])).toBe(62);
  });

  it('is 0 (no lease) when that would be fewer than 4 units: slow subjects and the last stretch before a limit', () => {
    expect(leaseUnits(0.1, 10, [counter(1e9, 0)], [])).toBe(0); // 1.5 units
    expect(leaseUnits(100, 10, [counter(1000, 950)], [])).toBe(0); // room 50 -> 3
    expect(leaseUnits(100, 10, [counter(1000, 1000)], [])).toBe(0);
    expect(leaseUnits(100, 10, [counter(1000, 1200)], [])).toBe(0);
  });

  it('ignores meters other than requests', () => {
    const tokens = { ...counter(10, 10), meter: 'tokens' };
    expect(leaseUnits(2, 10, [tokens], [])).toBe(30);
  });
});

describe('leaseAmount', () => {
  const tokens = (limit: number, used: number): CounterState => ({
    ...counter(limit, used),
    meter: 'tokens',
  });

  it('is 1.5 times the estimates of one lease period when the room is large', () => {
    // 100 calls/s of 1,300 tokens: 130 tokens/ms over 50 ms -> 9,750.
    expect(leaseAmount('tokens', 130, 1300, 50, [tokens(1e9, 0)], [80, 100])).toBe(9750);
    expect(leaseAmount('tokens', 130, 1300, 50, [], [])).toBe(9750);
  });

  it("takes at most 1/32 of the room before the meter's next threshold, and ignores other meters", () => {
    // Next threshold 80% of 1,000,000; room 800,000 - 100,000 -> 1/32: 21,875.
    expect(leaseAmount('tokens', 1000, 1300, 50, [tokens(1e6, 100_000), counter(10, 9)], [80, 100])).toBe(
      21_875,
    );
  });

  it('is 0 (calls admitted by the store) when that is less than 4 estimates', () => {
    // Room 80,000 -> 2,500, under 4 x 1,300.
    expect(leaseAmount('tokens', 1000, 1300, 50, [tokens(100_000, 20_000)], [])).toBe(0);
    expect(leaseAmount('tokens', 1000, 1300, 50, [tokens(100_000, 100_000)], [])).toBe(0);
    expect(leaseAmount('tokens', 1, 1300, 50, [], [])).toBe(0); // 75 tokens
  });

  it('is 0 when it would not be a safe integer', () => {
    expect(leaseAmount('cost', 1e15, 1e12, 50, [], [])).toBe(0);
  });
});

describe('leasePeriod', () => {
  it('is leaseMs when that covers 64 requests, longer (up to 4 x leaseMs) when the subject is slower', () => {
    expect(leasePeriod(30, 50)).toBe(50); // 30 req/ms: 1500 requests in 50 ms
    expect(leasePeriod(0.5, 50)).toBe(128); // 500 req/s: 128 ms for 64 requests
    expect(leasePeriod(0.1, 50)).toBe(200); // 100 req/s: capped at 4 x 50 ms
    expect(leasePeriod(30, 10)).toBe(10);
    expect(leasePeriod(0.1, 10)).toBe(40);
    expect(leasePeriod(0, 50)).toBe(50);
  });
});
