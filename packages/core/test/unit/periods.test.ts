import fc from 'fast-check';
import { PERIODS, periodWindow, type Period } from '../../src';
import { localDate } from '../../src/internal';

const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'America/Sao_Paulo',
  'America/Santiago',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'Pacific/Apia',
  'America/St_Johns',
  'Asia/Beirut',
];

// 2012..2040, in ms. Older Newfoundland rules changed clocks at 00:01 back to 23:01 of the day before, so a
// local date was not one contiguous stretch of time; no calendar-day window can represent that.
const instant = fc.integer({ min: 1_325_376_000_000, max: 2_208_988_800_000 });
const zone = fc.constantFrom(...ZONES);
const timed: Array<Exclude<Period, 'total'>> = ['minute', 'hour', 'day', 'month'];

function wall(instantMs: number, tz: string): { day: string; hm: string } {
  const f = new Intl.DateTimeFormat('en-GB', {
    timeZone: tz,
    hourCycle: 'h23',
    hour: '2-digit',
    minute: '2-digit',
  });
  return { day: localDate(instantMs, tz), hm: f.format(new Date(instantMs)) };
}

describe('periodWindow', () => {
  it('contains the instant, and every instant in a window maps to that same window', () => {
    fc.assert(
      fc.property(instant, zone, fc.constantFrom(...timed), (t, tz, period) => {
        const w = periodWindow(period, t, tz);
        expect(w.start).toBeLessThanOrEqual(t);
        expect(w.resetsAt!).toBeGreaterThan(t);
        expect(periodWindow(period, w.start, tz).key).toBe(w.key);
        expect(periodWindow(period, w.resetsAt! - 1, tz).key).toBe(w.key);
        const next = periodWindow(period, w.resetsAt!, tz);
        expect(next.start).toBe(w.resetsAt);
        expect(next.key).not.toBe(w.key);
        expect(w.expiresAt!).toBeGreaterThan(w.resetsAt!);
      }),
      { numRuns: 2000 },
    );
  });

  it('starts days and months on the local calendar, across DST changes and month ends', () => {
    fc.assert(
      fc.property(instant, zone, (t, tz) => {
        const day = periodWindow('day', t, tz);
        expect(localDate(day.start, tz)).toBe(localDate(t, tz));
        expect(localDate(day.start - 1, tz)).not.toBe(localDate(t, tz));
        expect(localDate(day.resetsAt!, tz)).not.toBe(localDate(t, tz));
        // A day lasts 23 to 25 hours (Lord Howe shifts 30 min; Apia once skipped a whole day).
        const len = day.resetsAt! - day.start;
        expect(len === 86_400_000 || (len >= 22 * 3_600_000 && len <= 25 * 3_600_000)).toBe(true);
        const month = periodWindow('month', t, tz);
        expect(localDate(month.start, tz).slice(0, 7)).toBe(localDate(t, tz).slice(0, 7));
        expect(localDate(month.start, tz).slice(8)).toMatch(/^0[12]$/); // the 1st (or the 2nd after a skipped day)
        expect(localDate(month.start - 1, tz).slice(0, 7)).not.toBe(localDate(t, tz).slice(0, 7));
      }),
      { numRuns: 2000 },
    );
  });

  it('holds around DST transitions (instants drawn from March, April, October and November)', () => {
    const nearDst = fc
      .record({
        year: fc.integer({ min: 2012, max: 2035 }),
        month: fc.constantFrom(2, 3, 9, 10),
        day: fc.integer({ min: 1, max: 30 }),
        minute: fc.integer({ min: 0, max: 24 * 60 - 1 }),
      })
      .map(({ year, month, day, minute }) => Date.UTC(year, month, day) + minute * 60_000);
    fc.assert(
      fc.property(nearDst, zone, fc.constantFrom(...timed), (t, tz, period) => {
        const w = periodWindow(period, t, tz);
        expect(w.start <= t && t < w.resetsAt!).toBe(true);
        expect(periodWindow(period, w.resetsAt!, tz).start).toBe(w.resetsAt);
        expect(periodWindow(period, w.resetsAt! - 1, tz).start).toBe(w.start);
      }),
      { numRuns: 3000 },
    );
  });

  it('starts hours on a local hh:00 and minutes on a whole minute', () => {
    fc.assert(
      fc.property(instant, zone, (t, tz) => {
        expect(wall(periodWindow('hour', t, tz).start, tz).hm.endsWith(':00')).toBe(true);
        const m = periodWindow('minute', t, tz);
        expect(m.start % 60_000).toBe(0);
        expect(m.resetsAt! - m.start).toBe(60_000);
      }),
      { numRuns: 1000 },
    );
  });

  it('gives the two repeated local 01:00 hours of a fall-back night different windows', () => {
    // 2026-11-01 in New York: 01:00-01:59 happens twice (EDT, then EST).
    const first = Date.UTC(2026, 10, 1, 5, 30); // 01:30 EDT
    const second = Date.UTC(2026, 10, 1, 6, 30); // 01:30 EST
    const a = periodWindow('hour', first, 'America/New_York');
    const b = periodWindow('hour', second, 'America/New_York');
    expect(a.key).not.toBe(b.key);
    expect(b.start - a.start).toBe(3_600_000);
    const day = periodWindow('day', first, 'America/New_York');
    expect(day.resetsAt! - day.start).toBe(25 * 3_600_000);
  });

  it("runs an hour from one local hh:00 to the next across Lord Howe's 30-minute DST changes", () => {
    // 2015-04-05: 02:00 LHDT (+11) falls back to 01:30 LHST (+10:30) at 15:00Z; local 01:00-01:59 lasts 90 minutes.
    const fallBack = periodWindow('hour', 1428156000000, 'Australia/Lord_Howe'); // 14:00Z = 01:00 LHDT
    expect(new Date(fallBack.start).toISOString()).toBe('2015-04-04T14:00:00.000Z');
    expect(new Date(fallBack.resetsAt!).toISOString()).toBe('2015-04-04T15:30:00.000Z');
    expect(periodWindow('hour', Date.UTC(2015, 3, 4, 15, 10), 'Australia/Lord_Howe').start).toBe(
      fallBack.start,
    );
    // 2015-10-04: 02:00 LHST jumps to 02:30 LHDT at 15:30Z; local 01:00 to 03:00 is one 90-minute hour window.
    const spring = periodWindow('hour', Date.UTC(2015, 9, 3, 15, 40), 'Australia/Lord_Howe'); // 02:40 LHDT
    expect(new Date(spring.start).toISOString()).toBe('2015-10-03T14:30:00.000Z');
    expect(new Date(spring.resetsAt!).toISOString()).toBe('2015-10-03T16:00:00.000Z');
  });

  it('resets a month at local midnight of the 1st, including leap years', () => {
    const w = periodWindow('month', Date.UTC(2028, 1, 29, 12), 'Europe/Berlin');
    expect(new Date(w.start).toISOString()).toBe('2028-01-31T23:00:00.000Z');
    expect(new Date(w.resetsAt!).toISOString()).toBe('2028-02-29T23:00:00.000Z');
  });

  it('never resets a total window', () => {
    fc.assert(
      fc.property(instant, zone, (t, tz) => {
        expect(periodWindow('total', t, tz)).toEqual({
          period: 'total',
          key: '0',
          start: 0,
          resetsAt: null,
          expiresAt: null,
        });
      }),
    );
    expect(PERIODS).toContain('total');
  });
});
