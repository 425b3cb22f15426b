// What every group of the contract suite shares: the store factory shape, the config, a clock, ids and sums.
import type { TollgateConfigInput } from '../../config';
import type { QuotaEngine } from '../../engine/quota-engine';
import type { BaselineSource } from '../../engine/seeding';
import type { ClaimedBatch, CounterStore, UsageDelta } from '../../store';

export interface ContractStoreFactory {
  /** Suite title, e.g. `MemoryStore` or `RedisStore (cluster)`. */
  name: string;
  /** A fresh, empty store (own key prefix or instance) for one test. */
  create: () => Promise<CounterStore>;
  /** Called after each test with the store it created. Defaults to `store.close()`. */
  destroy?: (store: CounterStore) => Promise<void>;
}

export const DAY = 86_400_000;

export const CONTRACT_CONFIG: TollgateConfigInput = {
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'free',
  warnAt: [50, 100],
  meters: { storage_bytes: { kind: 'gauge' } },
  plans: {
    free: {
      limits: {
        requests: { day: 5 },
        tokens: { day: 5000 },
        storage_bytes: { total: 1000 },
      },
    },
    burst: { limits: { requests: { minute: 2, day: 100 } } },
    big: { limits: { requests: { day: 100 } } },
    pro: { limits: { requests: { day: -1 }, tokens: { day: -1 } } },
    capped: { limits: { requests: { day: 10 } } },
    // No tokens at all on this plan: requests that take none still pass.
    nollm: { limits: { requests: { day: 5 }, tokens: { day: 0 } } },
  },
  userLimits: { capped: { requests: { day: 3 } } },
  // Per API key: under the user's cap on `capped`, and a token budget of its own on `big`.
  keyLimits: { capped: { requests: { day: 2 } }, big: { tokens: { day: 1000 } } },
  pricing: { 'demo-model': { input: '1.00', output: '2.00' } },
};

/** A controllable clock that starts at the real time and only moves forward (Redis TTLs stay in the future). */
export class TestClock {
  private offset = 0;
  now = (): number => Date.now() + this.offset;
  advance(ms: number): void {
    this.offset += ms;
  }
  /** Moves to just after the next UTC midnight. */
  toNextDay(): void {
    const n = this.now();
    this.offset += DAY - (n % DAY) + 1000;
  }
}

let counter = 0;
export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

export function sumUsage(batches: ClaimedBatch[], meter: string): number {
  return batches
    .flatMap((b) => b.usage)
    .filter((u: UsageDelta) => u.meter === meter)
    .reduce((a, u) => a + u.amount, 0);
}

/** What a group of cases is handed: the running test's store and clock, and an engine on them. */
export interface ContractKit {
  current(): { store: CounterStore; clock: TestClock };
  engine(baseline?: BaselineSource): QuotaEngine;
}
