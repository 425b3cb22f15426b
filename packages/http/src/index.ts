// @tollgate/http: the framework-agnostic request metering engine behind @tollgate/express and @tollgate/fastify, and
// the programmatic API.
//
// Every name here is meant for users: application code (createTollgate), adapter authors (RequestMeter and its
// HttpBinding), and services that forward or check signed identity headers. Each type a public signature mentions is
// exported too. The behaviour suite adapters run is in `@tollgate/http/testing`; what only Tollgate's own packages,
// tests and benches need is in `@tollgate/http/internal` (unstable).

// The programmatic API: createTollgate(options) and what its methods take and answer.
export { createTollgate, Tollgate } from './tollgate';
export type {
  IdentityInput,
  TollgateAdmission,
  TollgateHealth,
  TollgateRecordResult,
} from './tollgate-results';
export type {
  ResolvedTollgateOptions,
  ResolvedTrackUsageOptions,
  TollgateOptions,
  TrackUsageOptions,
} from './options';
export type { RejectedEvent, ThresholdEvent } from './events';
export type { TollgateLogger } from './logger';
// `failMode: 'closed'`: the store did not answer within `storeTimeoutMs` (the call may still have been applied).
export { StoreTimeoutError } from './deadline';

// `req.usage`: what a handler may do with its request.
export type { RecordOptions, RequestUsage } from './request-usage';

// For adapter authors: drive a RequestMeter through an HttpBinding, as @tollgate/express does.
export { callbackFailure, RequestMeter } from './request-meter';
export { countBodyBytes } from './node-io';
export type { HttpBinding } from './http-binding';
export type { MeterDone, MeterOutcome, PassOutcome, ProceedOutcome, RespondOutcome } from './ticket';

// Identity headers as the gateway forwards them: names, value encoding, and the signature over them.
export {
  decodeIdentityValue,
  encodeIdentityValue,
  IDENTITY_HEADERS,
  identityValueProblem,
  SIGNATURE_HEADER,
  signIdentity,
  verifyIdentitySignature,
  type ForwardedIdentity,
  type SignatureCheck,
  type SignatureFailure,
  type SignedRequest,
} from './identity-headers';
