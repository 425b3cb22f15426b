// Tolerant readers for untrusted JSON: a field is used only when it has the expected type.

export type Json = Record<string, unknown>;

export function asObject(v: unknown): Json | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null;
}

/** A token count: a non-negative safe integer, else null (absent, negative, fractional, not a number). */
export function tokenCount(v: unknown): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

export function asString(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

/** `a - b` floored at 0, treating null as 0 (a provider that reports more cached than total is clamped). */
export function minus(a: number | null, b: number | null): number | null {
  if (a === null) return null;
  return Math.max(0, a - (b ?? 0));
}
