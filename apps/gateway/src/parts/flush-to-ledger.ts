// FLUSHER=inline: the flusher inside the gateway, moving the counter store's usage into the Postgres ledger
// (@tollgate/ledger's runFlusher, as apps/flusher runs it), with its results in the gateway's metrics.
import type { CounterStore } from '@tollgate/core';
import type { SqlClient } from '@tollgate/ledger';
import { runFlusher, type RunningFlusher } from '@tollgate/ledger/internal';
import type { GatewaySettings } from '../env';
import type { Logger } from '../logger';
import type { GatewayMetrics } from '../metrics';
import type { CounterStorePart } from './counter-store';

export interface InlineFlusherOptions {
  settings: GatewaySettings;
  store: CounterStore;
  storeKind: CounterStorePart['kind'];
  sql: SqlClient;
  metrics: GatewayMetrics;
  log: Logger;
}

/** The running inline flusher, or null with FLUSHER=off (warned about when nothing else could flush). */
export function startInlineFlusher(o: InlineFlusherOptions): RunningFlusher | null {
  if (o.settings.flusher !== 'inline') {
    if (o.storeKind === 'memory')
      o.log.warn('FLUSHER=off with the in-process store: usage never reaches the ledger');
    return null;
  }
  const running = runFlusher({
    store: o.store,
    sql: o.sql,
    intervalMs: o.settings.flushIntervalMs,
    retentionMonths: o.settings.retentionMonths,
    log: o.log,
    // Retention runs after the first flush, not while the gateway starts serving.
    maintainAtStart: false,
    onFlush: () => o.metrics.flushes.inc({ result: 'ok' }),
    onError: () => o.metrics.flushes.inc({ result: 'error' }),
  });
  o.metrics.setFlushLagSource(() => running.lagSeconds());
  return running;
}
