// When the usage of every response so far is in the counter store: trackUsage's batching window waited out,
// then the store calls it issued (and late token records), a few rounds over.
import type { TrackUsageMiddleware } from '@tollgate/express';
import { USAGE_BATCH_MS } from '../steps/4-admit-and-meter';
import type { StoreTracker } from '../store-tracker';

export function usageSettled(meter: TrackUsageMiddleware, tracker: StoreTracker) {
  return async (timeoutMs: number): Promise<void> => {
    for (let round = 0; round < 3; round++) {
      await new Promise((r) => setTimeout(r, USAGE_BATCH_MS + 5));
      // Request statistics alone wait 10 x the batching window, leases' counts their lease: written now.
      await meter.flushUsage();
      await tracker.idle(timeoutMs);
    }
  };
}
