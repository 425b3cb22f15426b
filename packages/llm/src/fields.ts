// Tolerant readers for untrusted JSON: a field is used only when it has the expected type.

export type Json = Record<string, unknown>;

export function asObject(v: unknown): Json | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null;
}

/** A token count: a non-negative safe integer, else null (absent, negative, fractional, not a number). */
export function tokenCount(v: unknown): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/**
 * Most tokens one response may report in one field. No model reads or writes 10^8 tokens in one
 * call; bounding each field keeps sums and pico-dollar costs (10^8 x 7.5 * 10^7 at $75/M) safe integers.
 */
export const MAX_REPORTED_TOKENS = 100_000_000;

/**
 * A token count a provider reported: a non-negative integer up to MAX_REPORTED_TOKENS, else null
 * (absent, or absurd: 1e300, -5, "12", 2^60, 1.5 are read as not reported, so they are estimated).
 */
export function reportedTokens(v: unknown): number | null {
  const n = tokenCount(v);
  return n !== null && n <= MAX_REPORTED_TOKENS ? n : null;
}

/**
 * An optional reported count: 0 when the field is absent (a provider that omits it used none),
 * null when it is present but no sane count (so the side is estimated, not taken as 0).
 */
export function optionalTokens(v: unknown): number | null {
  return v === undefined ? 0 : reportedTokens(v);
}

export function asString(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

/** Longest model name a response may give; a longer one is no model name. */
export const MAX_MODEL_NAME = 256;

/** True when `s` holds a C0 or C1 control character or DEL: never in a model name, and unsafe in logs and CSV. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

/**
 * A model name from a response: 1..256 characters, no control characters, else null (the
 * request's model is then used for pricing and the ledger).
 */
export function modelName(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_MODEL_NAME && !hasControl(v) ? v : null;
}

/** `a - b` floored at 0, treating null as 0 (a provider that reports more cached than total is clamped). */
export function minus(a: number | null, b: number | null): number | null {
  if (a === null) return null;
  return Math.max(0, a - (b ?? 0));
}
