// Wires the flusher process: Redis store, ledger database, migrations, metrics, and an orderly close.
import type { Server } from 'node:http';
import { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CounterStore } from '@tollgate/core';
import {
  migrate,
  openSqlClient,
  type Flusher,
  type FlushReport,
  type SqlClient,
  type WriteHooks,
} from '@tollgate/ledger';
import { runFlusher, type RunningFlusher } from '@tollgate/ledger/internal';
import { RedisStore } from '@tollgate/redis';
import type { FlusherSettings } from './env';
import { FlusherMetrics } from './metrics';

export interface FlusherRuntime {
  flusher: Flusher;
  store: CounterStore;
  sql: SqlClient;
  metrics: FlusherMetrics;
  /** Bound metrics port, or null when disabled. */
  metricsPort: number | null;
  /** Stops the timer, finishes the batch in hand, flushes once more, then closes every connection. */
  close(): Promise<FlushReport>;
}

export interface StartOptions {
  logger: Logger;
  /** Test hooks around the commit. */
  hooks?: WriteHooks;
}

function redisClient(s: FlusherSettings): Redis | Cluster {
  // A background process: bounded commands so a hung Redis fails the flush (retried) instead of stalling it.
  const redisOptions = { commandTimeout: 10_000, maxRetriesPerRequest: 2, enableAutoPipelining: true };
  if (s.redisClusterNodes)
    return new Cluster(s.redisClusterNodes, { redisOptions, enableAutoPipelining: true });
  return new Redis(s.redisUrl!, redisOptions);
}

export async function startFlusher(
  settings: FlusherSettings,
  options: StartOptions,
): Promise<FlusherRuntime> {
  const log = options.logger;
  const sql = await openSqlClient({
    databaseUrl: settings.databaseUrl ?? undefined,
    dataDir: settings.dataDir,
    onError: (err) => log.warn({ err: err.message }, 'idle Postgres connection failed'),
  });
  const client = redisClient(settings);
  client.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));
  try {
    const applied = await migrate(sql);
    if (applied.length > 0) log.info({ migrations: applied }, 'migrations applied');
  } catch (err) {
    client.disconnect();
    await sql.close().catch(() => undefined);
    throw err;
  }
  const store = new RedisStore({ client, prefix: settings.redisPrefix });
  let running: RunningFlusher | null = null;
  const metrics = new FlusherMetrics(() => running?.flusher.lastSuccessAt ?? null);
  let server: Server | null = null;
  let metricsPort: number | null = null;
  if (settings.metricsPort !== 0) {
    const bound = await metrics.listen(settings.metricsPort, settings.metricsHost);
    server = bound.server;
    metricsPort = bound.port;
  }
  running = runFlusher({
    store,
    sql,
    intervalMs: settings.flushIntervalMs,
    staleAfterMs: settings.staleAfterMs,
    maxTags: settings.maxTags,
    retentionMonths: settings.retentionMonths,
    hooks: options.hooks,
    log,
    onFlush: (report) => metrics.onFlush(report),
    onError: (phase) => metrics.onError(phase),
    startedFields: { metricsPort },
    release: [() => server?.close(), () => client.quit().catch(() => client.disconnect()), () => sql.close()],
  });
  return { flusher: running.flusher, store, sql, metrics, metricsPort, close: running.close };
}
