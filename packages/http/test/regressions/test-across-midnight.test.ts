// Regression: the CI run of f4ac647 reached "never admit more than the limit from two instances" at 23:59 UTC. The
// plan allows 1,000 requests a day; the day turned during the test and 1,340 were admitted, the second day's room
// included. Every test of the suite, and every file of this repository (test-support/midnight-guard.ts), now starts
// clear of midnight. These cases pin the wait; the old code had none.
import { clearOfMidnight, midnightWait } from '../../src/testing';

const MIDNIGHT = Date.UTC(2026, 11, 8);

describe('a test starts clear of midnight', () => {
  afterEach(() => jest.useRealTimers());

  it('waits until a second past midnight when midnight is within the time the test may take', () => {
    expect(midnightWait(MIDNIGHT - 60_000, 60_000)).toBe(61_000);
    expect(midnightWait(MIDNIGHT - 1, 60_000)).toBe(1001);
    expect(midnightWait(MIDNIGHT - 60_001, 60_000)).toBe(0);
    expect(midnightWait(MIDNIGHT, 60_000)).toBe(0);
    expect(midnightWait(MIDNIGHT + 1000, 60_000)).toBe(0);
  });

  it('holds a test started at 23:59:30 until 00:00:01', async () => {
    jest.useFakeTimers({ now: MIDNIGHT - 30_000 });
    let started = false;
    const guard = clearOfMidnight(60_000).then(() => {
      started = true;
    });
    await jest.advanceTimersByTimeAsync(30_999);
    expect(started).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await guard;
    expect(started).toBe(true);
    expect(Date.now()).toBe(MIDNIGHT + 1000);
  });

  it('waits on the timer it is given (the repository guard passes one taken before fake timers)', async () => {
    jest.useFakeTimers({ now: MIDNIGHT - 10_000 });
    const waited: number[] = [];
    await clearOfMidnight(300_000, async (ms) => {
      waited.push(ms);
    });
    expect(waited).toEqual([11_000]);
  });
});
