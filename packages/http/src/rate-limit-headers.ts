// RateLimit-Policy / RateLimit values (draft-ietf-httpapi-ratelimit-headers-09) for the tightest `requests` limit.
import type { CounterState } from '@tollgate/core';
import type { HttpBinding } from './http-binding';

export const RATELIMIT_POLICY_HEADER = 'RateLimit-Policy';
export const RATELIMIT_HEADER = 'RateLimit';

/**
 * The `requests` limit with the least room left (ties: the one that resets last, as a 429 would name).
 * Other meters are not in "requests" quota units, so they are not advertised here.
 */
export function tightestRequestsLimit(counters: readonly CounterState[]): CounterState | null {
  let best: CounterState | null = null;
  let bestLeft = Infinity;
  for (const c of counters) {
    if (c.meter !== 'requests' || c.limit < 0) continue;
    const left = c.limit - c.used;
    if (
      best === null ||
      left < bestLeft ||
      (left === bestLeft && best.resetsAt !== null && (c.resetsAt === null || c.resetsAt > best.resetsAt))
    ) {
      best = c;
      bestLeft = left;
    }
  }
  return best;
}

/** Quota policy name: which owner and which window, e.g. `"tenant-requests-day"`. */
export function policyName(c: CounterState): string {
  return `"${c.scope}-${c.meter}-${c.period}"`;
}

/** `"tenant-requests-day";q=1000;w=86400` (no `w` for a `total` limit: it has no window). */
export function rateLimitPolicyValue(c: CounterState): string {
  if (c.resetsAt === null) return `${policyName(c)};q=${c.limit}`;
  const w = Math.round(c.resetsAt / 1000 - Number(c.periodKey));
  return `${policyName(c)};q=${c.limit};w=${w}`;
}

/**
 * `"tenant-requests-day";r=12;t=3600`: remaining units and seconds to the reset (no `t` for `total`); `used`
 * when the counter has moved since `c` was read (admissions from a lease), and `name` when the caller keeps
 * `policyName(c)` (one string less per request).
 */
export function rateLimitValue(c: CounterState, now: number, used = c.used, name = policyName(c)): string {
  const r = used >= c.limit ? 0 : c.limit - used;
  if (c.resetsAt === null) return `${name};r=${r}`;
  const t = c.resetsAt <= now ? 0 : Math.ceil((c.resetsAt - now) / 1000);
  return `${name};r=${r};t=${t}`;
}

/** Sets both headers on `res` through the framework's binding; nothing when there is no `requests` limit to show. */
export function setRateLimitHeaders<Res>(
  binding: HttpBinding<Res>,
  res: Res,
  policy: string | null,
  value: string | null,
): void {
  if (policy === null || value === null) return;
  binding.setHeader(res, RATELIMIT_POLICY_HEADER, policy);
  binding.setHeader(res, RATELIMIT_HEADER, value);
}
