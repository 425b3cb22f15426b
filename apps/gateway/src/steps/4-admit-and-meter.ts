// Step 4, admission and metering: the core engine (through @tollgate/express's trackUsage) admits the request
// against its quotas, holding the LLM reservation step 3 worked out, and counts its units; the engine writes them to
// the counter store (at the response's end with DURABILITY=delivered), from where the flusher moves them to Postgres.
import type { Request } from 'express';
import type { BaselineSource, CounterStore, TollgateConfig } from '@tollgate/core';
import { LedgerBaseline, type SqlClient } from '@tollgate/ledger';
import { trackUsage, type TrackUsageMiddleware } from '@tollgate/express';
import { contextOf } from '../context';
import type { GatewaySettings } from '../env';
import type { Logger } from '../logger';
import type { GatewayMetrics } from '../metrics';

export interface MeteringOptions {
  store: CounterStore;
  config: TollgateConfig;
  baseline?: BaselineSource;
  failMode: 'open' | 'closed';
  storeTimeoutMs: number;
  failOpenBuffer: number;
  /** Defaults to `delivered` (see DURABILITY). */
  durability?: 'delivered' | 'batched';
  log: Logger;
  metrics: GatewayMetrics;
}

/** How long trackUsage sums a subject's post-response usage before one store write. */
export const USAGE_BATCH_MS = 10;

/** The gateway's trackUsage(): identity from the verified JWT, the LLM reservation from the request body. */
export function createMeter(o: MeteringOptions): TrackUsageMiddleware {
  return trackUsage({
    store: o.store,
    config: o.config,
    baseline: o.baseline,
    failMode: o.failMode,
    storeTimeoutMs: o.storeTimeoutMs,
    failOpenBuffer: o.failOpenBuffer,
    durability: o.durability,
    logger: o.log,
    // Only the /api chain runs this step (servedAsApi decided on the canonical target): every request in it is
    // metered, also under an app that mounts the gateway's (its originalUrl then starts with the mount path).
    paths: ['/'],
    usageBatchMs: USAGE_BATCH_MS,
    identify: (req: Request) => {
      const id = contextOf(req).identity;
      return id
        ? { tenantId: id.tenantId, userId: id.userId, plan: id.tier, apiKeyId: id.apiKeyId ?? null }
        : null;
    },
    reserve: (req: Request) => contextOf(req).llm?.reserve,
  });
}

/** The gateway's meter from its settings: the store's baseline is the ledger (restores a lost store's counts). */
export function gatewayMeter(
  settings: GatewaySettings,
  parts: { store: CounterStore; sql: SqlClient; log: Logger; metrics: GatewayMetrics },
): TrackUsageMiddleware {
  return createMeter({
    store: parts.store,
    config: settings.config,
    baseline: new LedgerBaseline(parts.sql),
    failMode: settings.failMode,
    storeTimeoutMs: settings.storeTimeoutMs,
    failOpenBuffer: settings.failOpenBuffer,
    durability: settings.durability,
    log: parts.log,
    metrics: parts.metrics,
  });
}
