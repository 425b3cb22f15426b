// @tollgate/redis: RedisStore, the production CounterStore on ioredis (single node or Redis Cluster).
export { RedisStore } from './redis-store';
export { requestPathRedisOptions } from './client-options';
export { REDIS_STORE_DEFAULTS, type RedisStoreOptions } from './options';
export { ShardKeys, FlushQueues, escapeTag, overrideField } from './keys';
export { slotOfKey, slotOfTag, slotTagTable } from './slots';
export {
  APPLY_LUA,
  READ_LUA,
  SEED_LUA,
  CLAIM_LUA,
  ACK_LUA,
  COMMANDS,
  KEY_COUNTS,
  registerScripts,
} from './scripts';
export { toStoreError } from './errors';
