// @tollgate/http: the framework-agnostic request metering engine behind @tollgate/express and @tollgate/fastify, and
// the programmatic API.
export * from './identity-headers';
export * from './events';
export * from './logger';
export {
  TOLLGATE_DEFAULTS,
  TRACK_USAGE_DEFAULTS,
  resolveTollgateOptions,
  resolveTrackUsageOptions,
  type ResolvedTollgateOptions,
  type ResolvedTrackUsageOptions,
  type TollgateOptions,
  type TrackUsageOptions,
} from './options';
export * from './problem';
export * from './rate-limit-headers';
export * from './request-usage';
export { StoreTimeoutError } from './deadline';
export { pathMatcher } from './path-filter';
export { countBodyBytes, countingStream, type ResponseWatcher } from './node-io';
export { identityFromHeaders, type HeaderIdentity, type IdentityFailure } from './identity';
export type { PendingOp } from './replay-buffer';
export { RequestTicket, PASS, type MeterDone, type MeterOutcome, type RespondOutcome } from './ticket';
export { type HttpBinding } from './http-binding';
export { DEGRADED_HEADER } from './problem';
export {
  Tollgate,
  createTollgate,
  type IdentityInput,
  type TollgateAdmission,
  type TollgateHealth,
  type TollgateRecordResult,
} from './tollgate';
export { callbackFailure, RequestMeter } from './request-meter';
