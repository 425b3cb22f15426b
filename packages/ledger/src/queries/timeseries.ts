// Zero-filled usage timeseries of one meter: one entry per local day (or per UTC hour), ascending.
import { hourBucket, localDate } from '@tollgate/core/internal';
import type { SqlExecutor } from '../sql-client';
import { toAmount } from './decimal';
import { Params, ownerConditions, type UsageFilter } from './filter';

export interface TimeseriesQuery {
  filter: UsageFilter;
  meter: string;
  /** Number of entries' days, 1..366 (hourly: days * 24 hours). */
  days: number;
  /** `day` (default): `date` is YYYY-MM-DD in `timezone`; `hour`: ISO timestamps of UTC hour starts. */
  interval?: 'day' | 'hour';
  /** IANA zone of the day calendar. Defaults to `UTC`. */
  timezone?: string;
  /** The instant "today" is taken from. Defaults to now. */
  now?: number;
}

export interface TimeseriesPoint {
  date: string;
  amount: number;
}

/**
 * Day interval: exactly `days` entries ending with today's local date; a day collects the hour
 * buckets that start on it (sub-hour timezone offsets are approximate). Hour interval: exactly
 * `days * 24` entries ending with the current hour.
 */
export async function usageTimeseries(sql: SqlExecutor, q: TimeseriesQuery): Promise<TimeseriesPoint[]> {
  if (!Number.isSafeInteger(q.days) || q.days < 1 || q.days > 366) {
    throw new RangeError('days must be an integer from 1 to 366');
  }
  const now = q.now ?? Date.now();
  const tz = q.timezone ?? 'UTC';
  const p = new Params();
  const owner = ownerConditions(q.filter, p);
  const meter = p.add(q.meter);
  if (q.interval === 'hour') {
    const last = hourBucket(now);
    const first = last - (q.days * 24 - 1) * 3_600_000;
    const from = p.add(new Date(first).toISOString());
    const to = p.add(new Date(last).toISOString());
    const res = await sql.query<{ date: Date; amount: string }>(
      `WITH agg AS (
         SELECT bucket_start, sum(amount) AS amount FROM usage_ledger
         WHERE ${[...owner, `meter = ${meter}`, `bucket_start >= ${from}::timestamptz`, `bucket_start <= ${to}::timestamptz`].join(' AND ')}
         GROUP BY bucket_start)
       SELECT h AS date, coalesce(agg.amount, 0)::text AS amount
       FROM generate_series(${from}::timestamptz, ${to}::timestamptz, interval '1 hour') AS h
       LEFT JOIN agg ON agg.bucket_start = h ORDER BY h`,
      p.values,
    );
    return res.rows.map((r) => ({ date: new Date(r.date).toISOString(), amount: toAmount(r.amount) }));
  }
  const today = p.add(localDate(now, tz));
  const days = p.add(q.days);
  const zone = p.add(tz);
  const first = `(${today}::date - (${days}::int - 1))`;
  const res = await sql.query<{ date: string; amount: string }>(
    `WITH agg AS (
       SELECT (bucket_start AT TIME ZONE ${zone})::date AS day, sum(amount) AS amount FROM usage_ledger
       WHERE ${[
         ...owner,
         `meter = ${meter}`,
         `bucket_start >= (${first}::timestamp AT TIME ZONE ${zone})`,
         `bucket_start < ((${today}::date + 1)::timestamp AT TIME ZONE ${zone})`,
       ].join(' AND ')}
       GROUP BY 1)
     SELECT to_char(d, 'YYYY-MM-DD') AS date, coalesce(agg.amount, 0)::text AS amount
     FROM generate_series(${first}::timestamp, ${today}::date::timestamp, interval '1 day') AS d
     LEFT JOIN agg ON agg.day = d::date ORDER BY d`,
    p.values,
  );
  return res.rows.map((r) => ({ date: r.date, amount: toAmount(r.amount) }));
}
