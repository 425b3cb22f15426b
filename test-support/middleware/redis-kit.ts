// RedisStore's kit for the behavioural suite: the shared Redis, plus a test-owned redis-server for outages.
import Redis from 'ioredis';
import { RedisStore } from '@tollgate/redis';
import type { StoreKit } from '@tollgate/http/testing';
import { OwnedRedis, REDIS_URL, uniquePrefix } from '../services';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The client options the RedisStore README recommends: auto-pipelining, bounded waits, no offline queue. */
function client(url: string): Redis {
  return new Redis(url, {
    enableAutoPipelining: true,
    commandTimeout: 2000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 50,
    lazyConnect: false,
  });
}

async function ready(c: Redis): Promise<void> {
  if (c.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('redis client not ready in 5 s')), 5000);
    c.once('ready', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

export function redisKit(): StoreKit {
  const prefix = uniquePrefix('express-suite');
  let shared: Redis | null = null;
  let n = 0;
  const owned: Array<{ server: OwnedRedis; client: Redis; admin: Redis }> = [];
  return {
    name: 'RedisStore',
    async create() {
      if (!shared) {
        shared = client(REDIS_URL);
        // An unreachable shared Redis is a failure, never a skip.
        shared.on('error', () => undefined);
      }
      await ready(shared);
      n += 1;
      return new RedisStore({ client: shared, prefix: `${prefix}${n}:` });
    },
    async createOutage() {
      // Durable across stop/start (a real outage, not a data loss: that is the ledger's baseline job).
      const server = await OwnedRedis.start(['--appendonly', 'yes', '--appendfsync', 'always']);
      const c = client(server.url);
      c.on('error', () => undefined);
      const admin = new Redis(server.url, { lazyConnect: true, retryStrategy: () => 50 });
      admin.on('error', () => undefined);
      await ready(c);
      owned.push({ server, client: c, admin });
      const store = new RedisStore({ client: c, prefix: 'tg:' });
      return {
        store,
        down: () => server.stop(),
        up: async () => {
          await server.start();
          await ready(c);
        },
        answerLate: async (ms) => {
          // Commands queue behind the pause and run when it ends: applied, but after our timeout.
          await admin.connect().catch(() => undefined);
          await admin.call('CLIENT', 'PAUSE', String(ms), 'ALL');
        },
        applyLate: async (ms) => {
          await admin.connect().catch(() => undefined);
          await admin.call('CLIENT', 'PAUSE', String(ms), 'ALL');
        },
        hang: async () => {
          await admin.connect().catch(() => undefined);
          await admin.call('CLIENT', 'PAUSE', '4000', 'ALL');
        },
      };
    },
    async teardown() {
      for (const o of owned) {
        o.client.disconnect();
        o.admin.disconnect();
        await o.server.destroy();
      }
      if (shared) {
        // Remove this file's keys from the shared Redis (never FLUSHALL it).
        const keys: string[] = [];
        let cursor = '0';
        do {
          const [next, batch] = await shared.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          cursor = next;
          keys.push(...batch);
        } while (cursor !== '0');
        for (let i = 0; i < keys.length; i += 500) await shared.unlink(...keys.slice(i, i + 500));
        shared.disconnect();
      }
      await sleep(0);
    },
  };
}
