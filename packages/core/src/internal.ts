// @tollgate/core/internal: UNSTABLE. For Tollgate's own packages, tests and benches; not part of the public API, and
// it may change in any release.
export {
  OpIds,
  afterRejectionIdOf,
  leaseCloseIdOf,
  refundIdOf,
  releaseIdOf,
  reservationIdOf,
  settleIdOf,
} from './op-ids';
export { coalesceApplies, MAX_OPS_PER_CALL } from './store-coalescer';
