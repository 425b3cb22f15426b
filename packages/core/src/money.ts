// Exact money: USD decimal strings <-> integer pico-dollars (10^-12 USD) as bigint, never floats.

const PICO_PER_USD = 1_000_000_000_000n;
const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/** Whether `value` is written exactly as the API's USD amounts are (`"0.01"`: digits, no sign or spaces). */
export function isUsdAmount(value: string, maxDecimals = 12): boolean {
  const m = DECIMAL.exec(value);
  return m !== null && (m[2] ?? '').length <= maxDecimals;
}

/** Parses a non-negative USD decimal with at most `maxDecimals` decimals into pico-dollars. */
export function usdToPico(value: string, maxDecimals = 12): bigint {
  const m = DECIMAL.exec(value.trim());
  if (!m) throw new RangeError(`"${value}" is not a non-negative decimal number`);
  const frac = m[2] ?? '';
  if (frac.length > maxDecimals) throw new RangeError(`"${value}" has more than ${maxDecimals} decimals`);
  return BigInt(m[1]!) * PICO_PER_USD + BigInt(frac.padEnd(12, '0'));
}

/** Counters and limits stay below 2^63: Redis counts in 64-bit integers. */
const COUNTER_CEILING = 2 ** 63;

/**
 * Whether `limit` can be a limit of `meter` in the stores: a whole number >= -1 (-1 = unlimited). Counts are safe
 * integers; `cost` limits in pico-dollars may go past 2^53 (about $9007), as whole doubles below 2^63 (a USD amount
 * with at most 6 decimals stays exact up to about $576,000, see `picoLimit`).
 */
export function isLimitValue(meter: string, limit: number): boolean {
  if (meter !== 'cost') return Number.isSafeInteger(limit) && limit >= -1;
  return Number.isInteger(limit) && limit >= -1 && limit < COUNTER_CEILING;
}

/** A USD limit's pico-dollars as the number the stores hold, or null when no double holds it exactly. */
export function picoLimit(pico: bigint): number | null {
  const n = Number(pico);
  return n < COUNTER_CEILING && BigInt(n) === pico ? n : null;
}

/** A `cost` counter's pico-dollars (a whole double, which may pass 2^53) as an exact bigint. */
export function counterPico(value: number): bigint {
  return BigInt(Math.round(value));
}

/**
 * A counter's amount (limit, used, remaining) as the APIs show it: `cost` as a USD decimal string (it is counted in
 * pico-dollars), every other meter as its count; -1 (unlimited) stays -1.
 */
export function apiAmount(meter: string, value: number): number | string {
  return meter === 'cost' && value >= 0 ? picoToUsd(value) : value;
}

/** Formats pico-dollars as a USD decimal string with at least 6 decimals and no trailing noise. */
export function picoToUsd(pico: bigint | number | string): string {
  let v = BigInt(pico);
  const negative = v < 0n;
  if (negative) v = -v;
  const whole = v / PICO_PER_USD;
  let frac = (v % PICO_PER_USD).toString().padStart(12, '0');
  frac = frac.replace(/0+$/, '').padEnd(6, '0');
  return `${negative ? '-' : ''}${whole}.${frac}`;
}
