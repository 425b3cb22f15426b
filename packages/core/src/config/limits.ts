// Reading limits: one limit value into store units (config file and admin API alike), and whole limit tables.
import { picoLimit, usdToPico } from '../money';
import { PERIODS, type Period } from '../periods';
import type { LimitTable } from './types';

export type Issue = { path: string; message: string };

/**
 * Converts one limit value to store units (`cost` in USD to pico-dollars), or returns why it is not a limit: the
 * one reading of a limit, for the config file and the admin API alike.
 */
export function parseLimit(meter: string, value: number | string): number | string {
  if (meter === 'cost') {
    if (value === -1 || value === '-1') return -1;
    const text = typeof value === 'number' ? String(value) : value;
    let pico: bigint;
    try {
      pico = usdToPico(text, 6);
    } catch {
      return 'must be a USD amount such as "50.00" (at most 6 decimals) or -1 for unlimited';
    }
    return picoLimit(pico) ?? 'is too large';
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < -1) {
    return 'must be an integer >= -1 (-1 = unlimited)';
  }
  if (!Number.isSafeInteger(value)) return 'is too large';
  return value;
}

/** A limit table of the config file in store units; every problem goes to `issues`, named by its path. */
export function checkLimitTable(
  table: Record<string, Record<string, number | string>>,
  at: string,
  meters: Record<string, unknown>,
  issues: Issue[],
): LimitTable {
  const out: LimitTable = Object.create(null) as LimitTable;
  for (const [meter, periods] of Object.entries(table)) {
    if (!Object.hasOwn(meters, meter)) {
      issues.push({
        path: `${at}.${meter}`,
        message: `unknown meter "${meter}" (not built in, not under meters)`,
      });
      continue;
    }
    if (meter === 'rejected') {
      issues.push({
        path: `${at}.${meter}`,
        message: 'rejected requests never count against a quota; remove this limit',
      });
      continue;
    }
    const limits = Object.create(null) as Partial<Record<Period, number>>;
    for (const [period, raw] of Object.entries(periods)) {
      const p = `${at}.${meter}.${period}`;
      if (!(PERIODS as readonly string[]).includes(period)) {
        issues.push({ path: p, message: `unknown period "${period}" (use ${PERIODS.join(', ')})` });
        continue;
      }
      const parsed = parseLimit(meter, raw);
      if (typeof parsed === 'string') issues.push({ path: p, message: parsed });
      else limits[period as Period] = parsed;
    }
    out[meter] = limits;
  }
  return out;
}
