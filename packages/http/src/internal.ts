// @tollgate/http/internal: UNSTABLE. For Tollgate's own packages, tests and benches; not part of the public API, and
// it may change in any release. Users import `@tollgate/http`.

// Reading the identity headers of a request (what RequestMeter does before admission).
export { identityFromHeaders, type HeaderIdentity, type IdentityFailure } from './identity';

// Which requests are metered.
export { pathMatcher } from './path-filter';

// The answers the engine writes: 429/403 bodies and the RateLimit headers.
export { quotaRejection, type QuotaRejection } from './problem';
export { rateLimitPolicyValue, rateLimitValue, tightestRequestsLimit } from './rate-limit-headers';
