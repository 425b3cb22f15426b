// The HTTP side of the gateway: where requests enter, their lifecycle, the Express app, listen and shutdown.
export { canonicalEntry } from './canonical-entry';
export { expressApp } from './express-app';
export { internalErrorHandler } from './internal-error';
export { listen } from './listen';
export { RequestLifecycle } from './request-lifecycle';
export { shutdown } from './shutdown';
export { usageSettled } from './usage-settling';
