// problem+json (RFC 9457) bodies of Tollgate's rejections: 429/403 over quota, 401 no identity, 503 store down.
import type { Violation, QuotaProblem, SimpleProblem } from '@tollgate/core';
import { apiAmount } from '@tollgate/core/internal';

export type { QuotaProblem, SimpleProblem } from '@tollgate/core';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const PROBLEM_BASE = 'https://tollgate.dev/problems/';

export interface QuotaRejection {
  status: 429 | 403;
  /** Seconds until the named limit resets, rounded up, at least 1; null for `total` (403). */
  retryAfter: number | null;
  problem: QuotaProblem;
}

/** Seconds from `now` to `resetsAt`, rounded up, at least 1 (RFC 9110 delay-seconds). */
export function secondsUntil(resetsAt: number, now: number): number {
  return Math.max(1, Math.ceil((resetsAt - now) / 1000));
}

/** Builds the 429 (or 403 for a `total` limit) answer for the violated limit that resets last. */
export function quotaRejection(v: Violation, now: number): QuotaRejection {
  const limit = apiAmount(v.meter, v.limit);
  const used = apiAmount(v.meter, v.used);
  const owner = v.scope === 'key' ? "The API key's" : v.scope === 'user' ? "The user's" : "The tenant's";
  // `used` is the counter admission compared; when reservations of requests in flight are part of it, say how much.
  const held = v.held !== undefined && v.held > 0 ? apiAmount(v.meter, v.held) : null;
  const usedText = held === null ? `${used} used` : `${used} used, ${held} of it held by requests in flight`;
  if (v.resetsAt === null) {
    return {
      status: 403,
      retryAfter: null,
      problem: {
        type: `${PROBLEM_BASE}quota-exceeded`,
        title: 'Quota exceeded',
        status: 403,
        detail: `${owner} ${v.meter} quota (${limit} in total) is used up (${usedText}); it never resets.`,
        scope: v.scope,
        meter: v.meter,
        period: v.period,
        limit,
        used,
        resetsAt: null,
      },
    };
  }
  const resetsAt = new Date(v.resetsAt).toISOString();
  return {
    status: 429,
    retryAfter: secondsUntil(v.resetsAt, now),
    problem: {
      type: `${PROBLEM_BASE}quota-exceeded`,
      title: 'Quota exceeded',
      status: 429,
      detail: `${owner} ${v.meter} quota for this ${v.period} (${limit}) is used up (${usedText}); it resets at ${resetsAt}.`,
      scope: v.scope,
      meter: v.meter,
      period: v.period,
      limit,
      used,
      resetsAt,
    },
  };
}

export function unauthorizedProblem(detail: string): SimpleProblem {
  return { type: `${PROBLEM_BASE}unauthorized`, title: 'Unauthorized', status: 401, detail };
}

export const STORE_UNAVAILABLE_PROBLEM: SimpleProblem = {
  type: `${PROBLEM_BASE}service-unavailable`,
  title: 'Service Unavailable',
  status: 503,
  detail: 'The usage counter store is unreachable and this service fails closed; retry shortly.',
};

/** Pre-serialized: the 503 body is the same for every request. */
export const STORE_UNAVAILABLE_BODY = JSON.stringify(STORE_UNAVAILABLE_PROBLEM);

/** Marks a response served while the store did not answer (SPEC §5, §10). */
export const DEGRADED_HEADER = 'Tollgate-Degraded';
export const DEGRADED_VALUE = 'store-unavailable';
