// Prometheus metrics of one gateway (its own registry, so several gateways can live in one process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CounterStore } from '@tollgate/core';

/** Request outcomes counted in `tollgate_gateway_requests_total{outcome}`. */
export type Outcome =
  | 'ok'
  | 'upstream_4xx'
  | 'upstream_5xx'
  | 'rejected'
  | 'unauthorized'
  | 'store_unavailable'
  | 'bad_gateway'
  | 'gateway_timeout'
  | 'bad_request'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'request_timeout'
  | 'blocked_model'
  | 'client_aborted'
  | 'not_found';

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'outcome'>;
  readonly storeLatency: Histogram<'operation'>;
  readonly degraded: Counter;
  readonly tokens: Counter<'meter' | 'source'>;
  readonly usageDropped: Counter;
  readonly flushes: Counter<'result'>;
  private flushLagSource: (() => number | null) | null = null;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'tollgate_gateway_' });
    this.requests = new Counter({
      name: 'tollgate_gateway_requests_total',
      help: 'Proxied-path requests by outcome.',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.storeLatency = new Histogram({
      name: 'tollgate_store_latency_seconds',
      help: 'Latency of counter-store calls.',
      labelNames: ['operation'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [this.registry],
    });
    this.degraded = new Counter({
      name: 'tollgate_degraded_responses_total',
      help: 'Responses served while the counter store was unavailable (Tollgate-Degraded).',
      registers: [this.registry],
    });
    this.tokens = new Counter({
      name: 'tollgate_tokens_metered_total',
      help: 'LLM tokens metered from upstream responses, by meter and by source (reported or estimated).',
      labelNames: ['meter', 'source'],
      registers: [this.registry],
    });
    this.usageDropped = new Counter({
      name: 'tollgate_usage_dropped_total',
      help: 'Usage operations dropped because the fail-open buffer was full.',
      registers: [this.registry],
    });
    this.flushes = new Counter({
      name: 'tollgate_flushes_total',
      help: 'Inline flusher runs by result.',
      labelNames: ['result'],
      registers: [this.registry],
    });
    const lagOf = () => this.flushLagSource?.() ?? null;
    new Gauge({
      name: 'tollgate_flush_lag_seconds',
      help: 'Seconds since the inline flusher last committed (absent when the flusher is not inline).',
      registers: [this.registry],
      collect() {
        const v = lagOf();
        if (v !== null) this.set(v);
      },
    });
  }

  private readonly tokenChildren = new Map<string, { inc(n: number): void }>();

  /** Adds metered tokens; labelled children are kept, so no label hashing per record. */
  countTokens(meter: string, estimated: boolean, amount: number): void {
    const key = estimated ? `${meter}\u0000e` : meter;
    let child = this.tokenChildren.get(key);
    if (!child) {
      child = this.tokens.labels(meter, estimated ? 'estimated' : 'reported');
      this.tokenChildren.set(key, child);
    }
    child.inc(amount);
  }

  /** Reports flush lag from `source` (seconds, or null before the first flush). */
  setFlushLagSource(source: () => number | null): void {
    this.flushLagSource = source;
  }
}

const TIMED = ['apply', 'read', 'seed', 'setOverride', 'claim', 'ack', 'ping'] as const;

/** Wraps a store so every call's latency lands in `tollgate_store_latency_seconds{operation}`. */
export function instrumentStore(store: CounterStore, histogram: Histogram<'operation'>): CounterStore {
  const wrapped: CounterStore = Object.create(store) as CounterStore;
  for (const op of TIMED) {
    const original = (store[op] as (...args: unknown[]) => Promise<unknown>).bind(store);
    const timed = async (...args: unknown[]) => {
      const end = histogram.startTimer({ operation: op });
      try {
        return await original(...args);
      } finally {
        end();
      }
    };
    (wrapped as unknown as Record<string, unknown>)[op] = timed;
  }
  wrapped.close = () => store.close();
  return wrapped;
}
