// @tollgate/redis: RedisStore, the production CounterStore on ioredis (single node or Redis Cluster).
//
// Every name here is meant for users. The store's failures surface as @tollgate/core's StoreUnavailableError,
// bad options as its ConfigError. What the package's own tests and the benches need is in
// `@tollgate/redis/internal` (unstable).
export { RedisStore } from './redis-store';
export { REDIS_STORE_DEFAULTS, type RedisStoreOptions } from './options';
export { requestPathRedisOptions } from './client-options';
