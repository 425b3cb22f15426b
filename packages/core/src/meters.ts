// The built-in meters every deployment has, and the rules for custom meter names.

export const BUILTIN_METERS = [
  'requests',
  'rejected',
  'errors',
  'bytes_in',
  'bytes_out',
  'latency_ms',
  'tokens',
  'input_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'output_tokens',
  'cost',
] as const;

export type BuiltinMeter = (typeof BUILTIN_METERS)[number];
export type MeterKind = 'counter' | 'gauge';

/** Token meters that add up into `tokens` and carry a price. */
export const TOKEN_METERS = [
  'input_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'output_tokens',
] as const;
export type TokenMeter = (typeof TOKEN_METERS)[number];

/** Meters that are sums of others: their ledger rows carry cost 0 so nothing is counted twice. */
export const AGGREGATE_METERS: ReadonlySet<string> = new Set(['tokens', 'cost']);

export const METER_NAME = /^[a-z][a-z0-9_]{0,63}$/;

export function isTokenMeter(meter: string): meter is TokenMeter {
  return (TOKEN_METERS as readonly string[]).includes(meter);
}

/**
 * Names every JavaScript object inherits (`__proto__`, `constructor`, `toString`, ...): refused as meter and plan
 * names, so that no lookup anywhere (ours or a caller's) can mistake an inherited property for a configured one.
 */
export function isPrototypeName(name: string): boolean {
  return Object.hasOwn(Object.prototype, name);
}
