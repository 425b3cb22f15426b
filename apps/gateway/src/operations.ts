// The operations endpoints: /healthz (the server listens), /readyz (store and ledger answer), /metrics (Prometheus).
import { Router } from 'express';
import type { CounterStore } from '@tollgate/core';
import type { Tollgate } from '@tollgate/http';
import type { SqlClient } from '@tollgate/ledger';
import type { GatewayMetrics } from './metrics';

export interface OperationsOptions {
  store: CounterStore;
  sql: SqlClient;
  tollgate: Tollgate;
  metrics: GatewayMetrics;
  /** True once close() began: /readyz answers 503 so load balancers drain this instance. */
  shuttingDown(): boolean;
}

/** Rejects after `ms`: a hung store or ledger makes /readyz answer 503, never hang. */
function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), ms).unref()),
  ]);
}

const answers = (p: Promise<unknown>): Promise<boolean> =>
  bounded(p, 1000).then(
    () => true,
    () => false,
  );

export function operationsRouter(o: OperationsOptions): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const [storeOk, ledgerOk] = await Promise.all([
      answers(o.store.ping()),
      answers(o.sql.query('SELECT 1')),
    ]);
    const health = o.tollgate.health();
    const shuttingDown = o.shuttingDown();
    const body = {
      status: storeOk && ledgerOk && !shuttingDown ? 'ready' : 'unavailable',
      store: storeOk ? 'up' : 'down',
      ledger: ledgerOk ? 'up' : 'down',
      shuttingDown,
      degraded: health.degraded,
      bufferedOperations: health.buffered,
      droppedOperations: health.dropped,
      failingSince: health.failingSince,
    };
    res.status(body.status === 'ready' ? 200 : 503).json(body);
  });

  router.get('/metrics', async (_req, res) => {
    // The engine counts dropped usage itself; the counter catches up to it on each scrape.
    const health = o.tollgate.health();
    const counted = (await o.metrics.usageDropped.get()).values.reduce((a, v) => a + v.value, 0);
    if (health.dropped > counted) o.metrics.usageDropped.inc(health.dropped - counted);
    res.setHeader('Content-Type', o.metrics.registry.contentType);
    res.end(await o.metrics.registry.metrics());
  });

  return router;
}
