// Problem bodies, RateLimit fields and path matching: the pure pieces every rejection and header is built from.
import type { CounterState, Violation } from '@tollgate/core';
import {
  pathMatcher,
  quotaRejection,
  rateLimitPolicyValue,
  rateLimitValue,
  tightestRequestsLimit,
} from '@tollgate/http/internal';

const DAY_START = Date.UTC(2026, 10, 24) / 1000;
const NOW = Date.UTC(2026, 10, 24, 23, 59, 30, 400);

function counter(over: Partial<CounterState>): CounterState {
  return {
    scope: 'tenant',
    id: 't1',
    meter: 'requests',
    period: 'day',
    periodKey: String(DAY_START),
    limit: 10,
    used: 3,
    resetsAt: (DAY_START + 86_400) * 1000,
    ...over,
  };
}

describe('quota problem bodies', () => {
  it('answers 429 with Retry-After rounded up to whole seconds', () => {
    const r = quotaRejection(counter({ used: 10 }) as Violation, NOW);
    expect(r.status).toBe(429);
    expect(r.retryAfter).toBe(30); // 29.6 s to midnight
    expect(r.problem).toEqual({
      type: 'https://tollgate.dev/problems/quota-exceeded',
      title: 'Quota exceeded',
      status: 429,
      detail:
        "The tenant's requests quota for this day (10) is used up (10 used); it resets at 2026-11-25T00:00:00.000Z.",
      scope: 'tenant',
      meter: 'requests',
      period: 'day',
      limit: 10,
      used: 10,
      resetsAt: '2026-11-25T00:00:00.000Z',
    });
  });

  it('never answers Retry-After 0', () => {
    expect(
      quotaRejection(counter({ used: 10 }) as Violation, (DAY_START + 86_400) * 1000 - 1).retryAfter,
    ).toBe(1);
  });

  it('answers 403 without Retry-After for a total limit', () => {
    const r = quotaRejection(
      counter({ period: 'total', periodKey: '0', resetsAt: null, scope: 'user', id: 'u1' }) as Violation,
      NOW,
    );
    expect(r).toMatchObject({
      status: 403,
      retryAfter: null,
      problem: { status: 403, resetsAt: null, scope: 'user' },
    });
  });

  it('reports cost limits in USD decimal strings', () => {
    const r = quotaRejection(
      counter({
        meter: 'cost',
        period: 'month',
        limit: 50_000_000_000_000,
        used: 50_000_250_000_000,
      }) as Violation,
      NOW,
    );
    expect(r.problem).toMatchObject({ meter: 'cost', limit: '50.000000', used: '50.000250' });
  });
});

describe('RateLimit fields (draft-ietf-httpapi-ratelimit-headers-09)', () => {
  it('advertise the requests limit with the least room left', () => {
    const minute = counter({
      period: 'minute',
      periodKey: String(Math.floor(NOW / 60_000) * 60),
      limit: 5,
      used: 4,
      resetsAt: Math.ceil(NOW / 60_000) * 60_000,
    });
    const day = counter({ limit: 100, used: 3 });
    const tokens = counter({ meter: 'tokens', limit: 10, used: 10 });
    const c = tightestRequestsLimit([day, tokens, minute])!;
    expect(rateLimitPolicyValue(c)).toBe('"tenant-requests-minute";q=5;w=60');
    expect(rateLimitValue(c, NOW)).toBe('"tenant-requests-minute";r=1;t=30');
  });

  it('on a tie, advertise the limit that resets last (as a 429 would name it)', () => {
    const minute = counter({ period: 'minute', limit: 5, used: 5, resetsAt: NOW + 10_000 });
    const day = counter({ limit: 8, used: 8 });
    expect(tightestRequestsLimit([minute, day])!.period).toBe('day');
  });

  it('skip unlimited limits, and omit the window of a total limit', () => {
    expect(tightestRequestsLimit([counter({ limit: -1 })])).toBeNull();
    const total = counter({ period: 'total', periodKey: '0', resetsAt: null, limit: 2, used: 5 });
    expect(rateLimitPolicyValue(total)).toBe('"tenant-requests-total";q=2');
    expect(rateLimitValue(total, NOW)).toBe('"tenant-requests-total";r=0');
  });

  it('use the real window length of a DST day', () => {
    const c = counter({ periodKey: String(DAY_START), resetsAt: (DAY_START + 23 * 3600) * 1000 });
    expect(rateLimitPolicyValue(c)).toBe('"tenant-requests-day";q=10;w=82800');
  });
});

describe('metered paths', () => {
  it('match whole segments, any case, with or without a query', () => {
    const m = pathMatcher(['/api']);
    expect(['/api', '/api/', '/api/x', '/API/x', '/api?x=1', '/Api#f'].map(m)).toEqual(Array(6).fill(true));
    expect(['/apix', '/', '/v1/api', '/health'].map(m)).toEqual([false, false, false, false]);
  });

  it('accept several prefixes, a trailing slash, regular expressions, and "/" for everything', () => {
    const m = pathMatcher(['/v1/', /^\/internal\/billable\//]);
    expect(['/v1/a', '/internal/billable/x?y', '/internal/free'].map(m)).toEqual([true, true, false]);
    expect(pathMatcher(['/'])('/anything')).toBe(true);
  });

  it('see the target as a router does: absolute form, percent-escapes and repeated slashes do not slip past', () => {
    const m = pathMatcher(['/api', /^\/internal\/billable\//]);
    const metered = [
      'http://127.0.0.1/api/hello',
      'https://h.example:8443/API?x=1',
      'http://h/api',
      '/%61pi/hello',
      '/%61%70%69',
      '//api/hello',
      '/api%2Fhello',
      'http://h//%69nternal/billable/x',
    ];
    expect(metered.map(m)).toEqual(Array(metered.length).fill(true));
    const unmetered = [
      'http://h/apix',
      'http://h?next=/api',
      'http://h',
      '/x?next=//api',
      '/%ZZ/api',
      '*',
      '/health%20',
    ];
    expect(unmetered.map(m)).toEqual(Array(unmetered.length).fill(false));
  });
});
