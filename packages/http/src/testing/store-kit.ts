// Store kits for the behavioural suite: the kit a store gives the suite, MemoryStore's kit, and the claimed-usage tally.
// (RedisStore's kit lives with the repository's test support: it needs a real Redis and a redis-server binary.)
import { MemoryStore, type ClaimedBatch, type CounterStore } from '@tollgate/core';
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
