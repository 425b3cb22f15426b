// Graceful stop: no new connections, in-flight requests finish, usage settles in the store, the ledger is flushed
// once more, then everything opened is closed.
import type http from 'node:http';
import type { TrackUsageMiddleware } from '@tollgate/express';
import type { RunningFlusher } from '@tollgate/ledger/internal';
import type { Logger } from '../logger';
import type { Cleanups } from '../parts/cleanups';
import type { StoreTracker } from '../store-tracker';
import type { WebhookDispatcher } from '../webhooks/dispatcher';
import type { RequestLifecycle } from './request-lifecycle';

export interface ShutdownParts {
  server: http.Server | null;
  lifecycle: RequestLifecycle;
  timeoutMs: number;
  settled: (timeoutMs: number) => Promise<void>;
  meter: TrackUsageMiddleware;
  tracker: StoreTracker;
  flusher: RunningFlusher | null;
  webhooks: WebhookDispatcher | null;
  cleanups: Cleanups;
  log: Logger;
}

async function stopServing(
  server: http.Server,
  lifecycle: RequestLifecycle,
  timeoutMs: number,
): Promise<void> {
  const closed = new Promise<void>((r) => server.close(() => r()));
  server.closeIdleConnections();
  await lifecycle.drained(timeoutMs);
  server.closeAllConnections();
  await closed;
}

/** Runs once: a second call (a second signal) returns at once. */
export async function shutdown(p: ShutdownParts): Promise<void> {
  if (p.lifecycle.shuttingDown) return;
  p.lifecycle.beginShutdown();
  if (p.server) await stopServing(p.server, p.lifecycle, p.timeoutMs);
  await p.settled(p.timeoutMs);
  await p.meter.close();
  await p.tracker.idle(p.timeoutMs);
  if (p.flusher)
    await p.flusher.close().catch((err: unknown) => p.log.error({ err: String(err) }, 'final flush failed'));
  if (p.webhooks) await p.webhooks.close();
  await p.cleanups.run();
}
