// @tollgate/core/internal: UNSTABLE. For Tollgate's own packages, tests and benches; not part of the public API, and
// it may change in any release. Users import `@tollgate/core`.

// Operation ids: one per store write, and the ids derived from them (settlement, refund, release).
export {
  OpIds,
  afterRejectionIdOf,
  leaseCloseIdOf,
  refundIdOf,
  releaseIdOf,
  reservationIdOf,
  settleIdOf,
} from './op-ids';

// The error page every code links to (tests check the links).
export { ERROR_DOCS_URL } from './errors';

// Config pieces the request engine and the gateway reuse.
export { isConfiguredMeter, isParsedConfig, parseLimit } from './config';
export { BUILTIN_METERS } from './meters';
export { validateRecord } from './usage';
export { checkAmounts } from './engine/admission-ops';

// Calendar buckets the ledger and the request engine share.
export { currentWindows, hourBucket, localDate } from './periods';

// Pricing and money conversions between counters, the ledger's numeric columns and API amounts.
export { compilePrice, stripVersionSuffix, tokenCostPico } from './pricing';
export {
  apiAmount,
  COUNTER_CEILING,
  counterDigits,
  counterPico,
  isLimitValue,
  numericToPico,
  numericToUsd,
  picoAmount,
  picoToNumeric,
} from './money';

// Limits of an admission: which is spent, which resets last.
export { isSpent, latestResetting } from './engine/limits';

// Request targets as a path filter and a route see them.
export {
  canonicalTarget,
  isUnreadable,
  UnreadableTarget,
  type CanonicalTargetOptions,
  type UnreadableReason,
} from './canonical-target';

// The engine's ops of one event-loop turn in one store call.
export { coalesceApplies, MAX_OPS_PER_CALL } from './store-coalescer';
