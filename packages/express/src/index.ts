// @tollgate/express: trackUsage() middleware, plus the core types a user of it needs.
export { trackUsage, type ExpressTrackUsageOptions, type TrackUsageMiddleware } from './track-usage';
export { QuotaExceededError, StoreUnavailableError } from '@tollgate/core';
export {
  createTollgate,
  type RequestUsage,
  type RecordOptions,
  type RejectedEvent,
  type ThresholdEvent,
  type Tollgate,
  type TollgateHealth,
  type TollgateLogger,
} from '@tollgate/http';
