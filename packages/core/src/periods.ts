// Calendar periods (minute, hour, day, month, total) aligned in an IANA timezone, DST-safe.

export const PERIODS = ['minute', 'hour', 'day', 'month', 'total'] as const;
export type Period = (typeof PERIODS)[number];

export interface PeriodWindow {
  period: Period;
  /** Stable identifier of the window: the start instant in epoch seconds ('0' for total). */
  key: string;
  /** Start of the window, epoch ms (0 for total). */
  start: number;
  /** First instant of the next window, epoch ms; null for `total` (never resets). */
  resetsAt: number | null;
  /** When a counter of this window may be dropped: a little past its end; null for total. */
  expiresAt: number | null;
}

interface LocalParts {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `tz` is an IANA zone this runtime knows. */
export function isValidTimeZone(tz: string): boolean {
  try {
    formatterFor(tz);
    return true;
  } catch {
    return false;
  }
}

function localParts(instant: number, timeZone: string): LocalParts {
  const out: Record<string, number> = {};
  for (const p of formatterFor(timeZone).formatToParts(new Date(instant))) {
    if (p.type !== 'literal') out[p.type] = Number(p.value);
  }
  return {
    year: out.year!,
    month: out.month!,
    day: out.day!,
    hour: out.hour!,
    minute: out.minute!,
    second: out.second!,
  };
}

/** Local wall time minus UTC at `instant`, in ms. */
function offsetAt(instant: number, timeZone: string): number {
  const p = localParts(instant, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - (instant - (((instant % 1000) + 1000) % 1000));
}

/**
 * The first instant whose local date is year-month-day (normally local midnight; after a DST gap
 * at midnight, the first wall time that exists that day).
 */
function startOfLocalDay(year: number, month: number, day: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day);
  let t = wall - offsetAt(wall, timeZone);
  t = wall - offsetAt(t, timeZone);
  // Midnight may not exist (DST gap): step to the first instant that is on the target date.
  const p = localParts(t, timeZone);
  const got = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  if (got < wall) t += wall - got;
  // Land exactly on a local-midnight-or-later instant of the target day, walking back over any
  // instants that are still on the target day (fall-back repeats).
  const before = localParts(t - 1, timeZone);
  if (before.year === year && before.month === month && before.day === day) {
    // Should not happen for whole-hour offsets; fall back to a minute-step search.
    let probe = t;
    for (let i = 0; i < 180; i++) {
      const q = localParts(probe - 60_000, timeZone);
      if (q.year !== year || q.month !== month || q.day !== day) break;
      probe -= 60_000;
    }
    t = probe;
  }
  return t;
}

function addLocalDays(year: number, month: number, day: number, days: number): [number, number, number] {
  const d = new Date(Date.UTC(year, month - 1, day + days));
  return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
}

const EXPIRY_GRACE_MS: Record<Exclude<Period, 'total'>, number> = {
  minute: 60_000,
  hour: 10 * 60_000,
  day: 60 * 60_000,
  month: 60 * 60_000,
};

const QUARTER_HOUR = 15 * 60_000;

function startAndEnd(period: Exclude<Period, 'total'>, instant: number, timeZone: string): [number, number] {
  switch (period) {
    case 'minute': {
      const start = instant - (((instant % 60_000) + 60_000) % 60_000);
      return [start, start + 60_000];
    }
    case 'hour': {
      // An hour runs from one local hh:00 to the next. Every modern UTC offset is a multiple of 15 minutes,
      // so local hh:00 instants lie on the UTC quarter-hour grid: walk it (back for the start, forward for
      // the end). Around a 30-minute DST change (Lord Howe) an hour can last 30 or 90 minutes.
      const onHour = (x: number) => {
        const p = localParts(x, timeZone);
        return p.minute === 0 && p.second === 0;
      };
      let start = instant - (((instant % QUARTER_HOUR) + QUARTER_HOUR) % QUARTER_HOUR);
      for (let i = 0; i < 12 && !onHour(start); i++) start -= QUARTER_HOUR;
      let end = start + QUARTER_HOUR;
      for (let i = 0; i < 12 && !onHour(end); i++) end += QUARTER_HOUR;
      return [start, end];
    }
    case 'day': {
      const p = localParts(instant, timeZone);
      const start = startOfLocalDay(p.year, p.month, p.day, timeZone);
      const [ny, nm, nd] = addLocalDays(p.year, p.month, p.day, 1);
      return [start, startOfLocalDay(ny, nm, nd, timeZone)];
    }
    case 'month': {
      const p = localParts(instant, timeZone);
      const start = startOfLocalDay(p.year, p.month, 1, timeZone);
      const ny = p.month === 12 ? p.year + 1 : p.year;
      const nm = p.month === 12 ? 1 : p.month + 1;
      return [start, startOfLocalDay(ny, nm, 1, timeZone)];
    }
  }
}

/** The window of `period` that contains `instant` (epoch ms), in `timeZone`. */
export function periodWindow(period: Period, instant: number, timeZone = 'UTC'): PeriodWindow {
  if (period === 'total') return { period, key: '0', start: 0, resetsAt: null, expiresAt: null };
  const [start, end] = startAndEnd(period, instant, timeZone);
  return {
    period,
    key: String(Math.floor(start / 1000)),
    start,
    resetsAt: end,
    expiresAt: end + EXPIRY_GRACE_MS[period],
  };
}

/** Every period's current window at `instant`. */
export function currentWindows(instant: number, timeZone = 'UTC'): PeriodWindow[] {
  return PERIODS.map((p) => periodWindow(p, instant, timeZone));
}

/** Start of the UTC hour containing `instant`: the ledger's bucket. */
export function hourBucket(instant: number): number {
  return instant - (((instant % 3_600_000) + 3_600_000) % 3_600_000);
}

/** The local calendar date (YYYY-MM-DD) of `instant` in `timeZone`. */
export function localDate(instant: number, timeZone = 'UTC'): string {
  const p = localParts(instant, timeZone);
  return `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
}
