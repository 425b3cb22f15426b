// The counter store the settings ask for: MemoryStore (embedded), RedisStore on one node, or on a Cluster.
import Redis, { Cluster } from 'ioredis';
import { MemoryStore, type CounterStore } from '@tollgate/core';
import { RedisStore, requestPathRedisOptions } from '@tollgate/redis';
import type { GatewaySettings } from './env';
import type { Logger } from './logger';

export interface OpenedStore {
  store: CounterStore;
  kind: 'memory' | 'redis' | 'cluster';
  /** Closes the store and the client this module created. */
  close(): Promise<void>;
}

/** Resolves when the client is ready, or after `ms` (the store then starts degraded and recovers on reconnect). */
function ready(client: Redis | Cluster, ms: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, ms);
    timer.unref();
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    client.once('ready', onReady);
  });
}

export async function openStore(settings: GatewaySettings, log: Logger): Promise<OpenedStore> {
  if (!settings.redisUrl && !settings.redisClusterNodes) {
    const store = new MemoryStore();
    return { store, kind: 'memory', close: () => store.close() };
  }
  const options = requestPathRedisOptions(settings.storeTimeoutMs);
  const client = settings.redisClusterNodes
    ? new Cluster(settings.redisClusterNodes, {
        enableAutoPipelining: true,
        enableOfflineQueue: false,
        clusterRetryStrategy: options.retryStrategy,
        redisOptions: { ...options, enableAutoPipelining: undefined },
      })
    : new Redis(settings.redisUrl!, options);
  let lastError = 0;
  client.on('error', (err: Error) => {
    // Reconnect loops repeat the same error; one line per 10 s is enough.
    if (Date.now() - lastError < 10_000) return;
    lastError = Date.now();
    log.warn({ err: err.message }, 'counter store (Redis) error');
  });
  if (!(await ready(client, 5000))) log.error('Redis is not reachable yet; serving degraded until it is');
  const store = new RedisStore({ client, prefix: settings.redisKeyPrefix });
  return {
    store,
    kind: settings.redisClusterNodes ? 'cluster' : 'redis',
    close: async () => {
      await store.close();
      client.disconnect();
    },
  };
}
