// The ioredis options Tollgate recommends for a client on the request path: one definition, used by the gateway.
import type { RedisOptions } from 'ioredis';

/**
 * ioredis options for the request path: a command never waits in an offline queue or retries
 * forever (so `STORE_TIMEOUT_MS` holds and fail-open applies at once), auto-pipelining batches
 * concurrent requests' scripts, and reconnects back off up to 2 s. `storeTimeoutMs` is the engine's (default 100).
 * For a Cluster, pass them as `redisOptions` (without `enableAutoPipelining`, which the Cluster takes itself).
 */
export function requestPathRedisOptions(storeTimeoutMs = 100): RedisOptions {
  return {
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // The engine bounds each call by STORE_TIMEOUT_MS; this only reaps commands a dead socket holds.
    commandTimeout: Math.max(1000, storeTimeoutMs * 10),
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  };
}
