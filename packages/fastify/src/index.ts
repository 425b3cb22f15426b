// @tollgate/fastify: the Fastify plugin, plus the core types a user of it needs.
import { tollgate } from './plugin';

export { tollgate, type TollgateFastifyOptions } from './plugin';
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
export default tollgate;
