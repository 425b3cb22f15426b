// Store kits for the behavioural suite: MemoryStore, and RedisStore on the shared Redis plus a test-owned redis-server for outages.
import Redis from 'ioredis';
import { MemoryStore, type ClaimedBatch, type CounterStore } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';
import { OwnedRedis, REDIS_URL, uniquePrefix } from '../services';
import { OutageStore } from './outage-store';

/** A store whose backend a test can take down and bring back. */
export interface OutageHandle {
  store: CounterStore;
  /** The backend stops answering (connection refused). */
  down(): Promise<void>;
  /** The backend is back. */
  up(): Promise<void>;
  /** For `ms`, ops are applied but their answers arrive too late (lost to the store timeout). */
  answerLate(ms: number): Promise<void>;
  /** For `ms`, ops are not applied yet (admission stays in flight). */
  applyLate(ms: number): Promise<void>;
  /** The backend accepts connections but never answers. */
  hang(): Promise<void>;
}

export interface StoreKit {
  name: string;
  /** A fresh, isolated store. */
  create(): Promise<CounterStore>;
  /** A fresh store whose backend the test controls. */
  createOutage(): Promise<OutageHandle>;
  /** Releases everything the kit started (clients, servers). */
  teardown(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function memoryKit(): StoreKit {
  const stores: CounterStore[] = [];
  return {
    name: 'MemoryStore',
    async create() {
      const s = new MemoryStore();
      stores.push(s);
      return s;
    },
    async createOutage() {
      const inner = new MemoryStore();
      stores.push(inner);
      const store = new OutageStore(inner);
      return {
        store,
        down: async () => {
          store.mode = 'down';
        },
        up: async () => {
          store.mode = 'up';
        },
        answerLate: async (ms) => {
          store.mode = 'late-answer';
          store.delayMs = ms;
          setTimeout(() => (store.mode = 'up'), ms).unref();
        },
        applyLate: async (ms) => {
          store.mode = 'late-apply';
          store.delayMs = ms;
        },
        hang: async () => {
          store.mode = 'hang';
        },
      };
    },
    async teardown() {
      await Promise.all(stores.map((s) => s.close()));
    },
  };
}

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

/** Sums what the flusher would see: claims (and acks) unflushed usage, accumulating across calls. */
export class ClaimedUsage {
  private readonly amounts = new Map<string, number>();
  private costPico = 0n;

  constructor(private readonly store: CounterStore) {}

  async refresh(): Promise<this> {
    const batches: ClaimedBatch[] = await this.store.claim({
      now: Date.now(),
      maxTags: 10_000,
      staleAfterMs: 3_600_000,
    });
    for (const b of batches) {
      for (const u of b.usage) {
        this.amounts.set(u.meter, (this.amounts.get(u.meter) ?? 0) + u.amount);
        this.costPico += BigInt(u.costPico);
      }
    }
    if (batches.length > 0) await this.store.ack(batches);
    return this;
  }

  amount(meter: string): number {
    return this.amounts.get(meter) ?? 0;
  }

  /** Total exact cost (aggregate meters carry none, so nothing is counted twice). */
  cost(): bigint {
    return this.costPico;
  }
}
