// @tollgate/http/testing: the behavioural suite every framework adapter runs unchanged, with what it needs (a harness
// contract, store kits, HTTP client helpers). An adapter of your own passes it the same way Express and Fastify do.
export { behaviourSuite } from './behaviour-suite';
export type { AppHarness, RunningApp } from './harness';
export { memoryKit, ClaimedUsage, type OutageHandle, type StoreKit } from './store-kit';
export { OutageStore, type OutageMode } from './outage-store';
export { SUITE_CONFIG } from './suite-config';
export {
  burst,
  captureLogger,
  clearOfMidnight,
  eventually,
  get,
  getTarget,
  identity,
  midnightWait,
  post,
  secondsToMidnight,
  signedIdentity,
  sleep,
  uniqueTenant,
  type LogEntry,
  type Reply,
} from './http';
