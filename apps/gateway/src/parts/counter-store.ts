// The counter store the request path writes to: the caller's or the settings' (memory, Redis, Redis Cluster),
// instrumented for latency and tracked so shutdown and idle() know when every write finished.
import type { CounterStore } from '@tollgate/core';
import type { GatewaySettings } from '../env';
import type { Logger } from '../logger';
import { instrumentStore, type GatewayMetrics } from '../metrics';
import { openStore, type OpenedStore } from '../store-factory';
import { StoreTracker } from '../store-tracker';
import type { Cleanups } from './cleanups';

export interface CounterStorePart {
  store: CounterStore;
  tracker: StoreTracker;
  kind: OpenedStore['kind'] | 'injected';
}

export async function openCounterStore(
  settings: GatewaySettings,
  given: CounterStore | undefined,
  metrics: GatewayMetrics,
  log: Logger,
  cleanups: Cleanups,
): Promise<CounterStorePart> {
  let raw = given;
  let kind: CounterStorePart['kind'] = 'injected';
  if (!raw) {
    const opened = await openStore(settings, log);
    cleanups.add(() => opened.close());
    raw = opened.store;
    kind = opened.kind;
  }
  const tracker = new StoreTracker(instrumentStore(raw, metrics.storeLatency));
  return { store: tracker.store, tracker, kind };
}
