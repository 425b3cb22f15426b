// Exact money, the one module that converts it: USD decimal strings (the APIs), Postgres numeric text (the ledger)
// and counter values (the stores) <-> integer pico-dollars (10^-12 USD) as bigint, never through floats.

const PICO_PER_USD = 1_000_000_000_000n;
const PICO_DECIMALS = 12;
const DECIMAL = /^(\d+)(?:\.(\d+))?$/;
const SIGNED_DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;
const INTEGER = /^-?\d+$/;

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
  return BigInt(m[1]!) * PICO_PER_USD + BigInt(frac.padEnd(PICO_DECIMALS, '0'));
}

/** Formats pico-dollars as a USD decimal string with at least 6 decimals and no trailing noise. */
export function picoToUsd(pico: bigint | number | string): string {
  let v = BigInt(pico);
  const negative = v < 0n;
  if (negative) v = -v;
  const whole = v / PICO_PER_USD;
  let frac = (v % PICO_PER_USD).toString().padStart(PICO_DECIMALS, '0');
  frac = frac.replace(/0+$/, '').padEnd(6, '0');
  return `${negative ? '-' : ''}${whole}.${frac}`;
}

/** Parses Postgres numeric text of USD with at most 12 decimals (a `cost_usd` sum) into pico-dollars; null is 0. */
export function numericToPico(text: string | null | undefined): bigint {
  if (text === null || text === undefined || text === '') return 0n;
  const m = SIGNED_DECIMAL.exec(text.trim());
  if (!m) throw new RangeError(`not a decimal number: "${text}"`);
  const frac = (m[3] ?? '').replace(/0+$/, '');
  if (frac.length > PICO_DECIMALS) throw new RangeError(`more than 12 decimals: "${text}"`);
  const value = BigInt(m[2]!) * PICO_PER_USD + BigInt(frac.padEnd(PICO_DECIMALS, '0'));
  return m[1] ? -value : value;
}

/** Formats Postgres numeric text of USD (a `cost_usd` sum) as the API's cost string (at least 6 decimals, exact). */
export function numericToUsd(text: string | null | undefined): string {
  return picoToUsd(numericToPico(text));
}

/** Exact USD numeric text of an integer pico-dollar string (pico / 10^12), e.g. '1200000000' -> '0.001200000000'. */
export function picoToNumeric(pico: string): string {
  if (!INTEGER.test(pico)) throw new RangeError(`costPico must be an integer string, got "${pico}"`);
  const negative = pico.startsWith('-');
  const digits = (negative ? pico.slice(1) : pico).replace(/^0+/, '');
  if (digits === '') return '0';
  const padded = digits.padStart(PICO_DECIMALS + 1, '0');
  return `${negative ? '-' : ''}${padded.slice(0, -PICO_DECIMALS)}.${padded.slice(-PICO_DECIMALS)}`;
}

/** Counters and limits stay below 2^63: Redis counts in 64-bit integers. */
export const COUNTER_CEILING = 2 ** 63;

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
 * A whole counter value (a count, or pico-dollars past 2^53) in plain digits, exactly as the double holds it
 * (`String(2 ** 70)` would give `1.1805916207174113e+21`).
 */
export function counterDigits(value: number): string {
  return Number.isSafeInteger(value) ? String(value) : BigInt(value).toString();
}

/** A pico-dollar cost as an amount a counter takes (a safe integer): costs past 2^53 - 1 are held as 2^53 - 1. */
export function picoAmount(pico: bigint): number {
  return pico > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(pico);
}

/**
 * A counter's amount (limit, used, remaining) as the APIs show it: `cost` as a USD decimal string (it is counted in
 * pico-dollars), every other meter as its count; -1 (unlimited) stays -1.
 */
export function apiAmount(meter: string, value: number): number | string {
  return meter === 'cost' && value >= 0 ? picoToUsd(value) : value;
}
