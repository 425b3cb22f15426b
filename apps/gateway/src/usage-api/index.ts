// The usage API as the gateway mounts it (and tests and benches mount it alone).
export { createUsageApi, type UsageApiOptions } from './router';
export { usageErrorHandler } from './errors';
export { keyRoutes, type KeyRoutesOptions } from './keys';
export { callerAuthenticator, type Caller } from './identity';
