// Prometheus metrics of the flusher and the small HTTP server that exposes them.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { FlushReport } from '@tollgate/ledger';

export class FlusherMetrics {
  readonly registry = new Registry();
  readonly rows: Counter;
  readonly batches: Counter<'result'>;
  readonly errors: Counter<'phase'>;
  readonly lag: Gauge;

  /** `lastSuccessAt` feeds the lag gauge: seconds since the last flush that succeeded (since start before the first). */
  constructor(lastSuccessAt: () => number | null, startedAt = Date.now()) {
    collectDefaultMetrics({ register: this.registry });
    this.rows = new Counter({
      name: 'tollgate_flush_rows_total',
      help: 'Ledger rows written by the flusher.',
      registers: [this.registry],
    });
    this.batches = new Counter({
      name: 'tollgate_flush_batches_total',
      help: 'Claimed batches handled: written, or skipped because an earlier attempt had committed them.',
      labelNames: ['result'],
      registers: [this.registry],
    });
    this.errors = new Counter({
      name: 'tollgate_flush_errors_total',
      help: 'Failed flushes (retried with backoff) and failed maintenance runs.',
      labelNames: ['phase'],
      registers: [this.registry],
    });
    this.lag = new Gauge({
      name: 'tollgate_flush_lag_seconds',
      help: 'Seconds since the last successful flush: grows while Postgres or Redis is unavailable.',
      registers: [this.registry],
      collect() {
        this.set((Date.now() - (lastSuccessAt() ?? startedAt)) / 1000);
      },
    });
  }

  onFlush(report: FlushReport): void {
    this.rows.inc(report.rows);
    this.batches.inc({ result: 'written' }, report.batches);
    this.batches.inc({ result: 'skipped' }, report.skipped);
  }

  onError(phase: 'flush' | 'maintenance'): void {
    this.errors.inc({ phase });
  }

  /** Serves `GET /metrics` (and `GET /healthz`) on host:port; resolves with the bound port. */
  async listen(port: number, host: string): Promise<{ server: Server; port: number }> {
    const server = createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/metrics') {
        this.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'Content-Type': this.registry.contentType });
            res.end(text);
          },
          (err: Error) => {
            res.writeHead(500, { 'Content-Type': 'text/plain' });
            res.end(err.message);
          },
        );
        return;
      }
      if (req.method === 'GET' && req.url === '/healthz') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('ok');
        return;
      }
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return { server, port: (server.address() as AddressInfo).port };
  }
}
