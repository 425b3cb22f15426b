// Exact decimal helpers: Postgres numeric text <-> integer pico-dollars, never through floats.
import { picoToUsd } from '@tollgate/core';

const NUMERIC = /^(-)?(\d+)(?:\.(\d+))?$/;

/** Parses numeric text with at most 12 decimals (a sum of cost_usd) into pico-dollars. */
export function numericToPico(text: string | null | undefined): bigint {
  if (text === null || text === undefined || text === '') return 0n;
  const m = NUMERIC.exec(text.trim());
  if (!m) throw new RangeError(`not a decimal number: "${text}"`);
  const frac = (m[3] ?? '').replace(/0+$/, '');
  if (frac.length > 12) throw new RangeError(`more than 12 decimals: "${text}"`);
  const value = BigInt(m[2]!) * 1_000_000_000_000n + BigInt(frac.padEnd(12, '0'));
  return m[1] ? -value : value;
}

/** Formats a numeric sum of USD as the API's cost string (at least 6 decimals, exact). */
export function usdString(text: string | null | undefined): string {
  return picoToUsd(numericToPico(text));
}

/** An integer sum (bigint text) as a JS number; exact below 2^53. */
export function toAmount(text: string | null | undefined): number {
  return text === null || text === undefined ? 0 : Number(text);
}
