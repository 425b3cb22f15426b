// Flusher: moves claimed usage from the counter store into the ledger on a timer that never overlaps itself.
import type { ClaimedBatch, CounterStore } from '@tollgate/core';
import { assertCounterStore } from '@tollgate/core';
import { pruneFlushBatches, pruneEvents } from './maintenance';
import { PartitionManager } from './partitions';
import type { SqlClient } from './sql-client';
import { writeBatches, type WriteHooks } from './ledger-writer';

export interface FlushReport {
  /** Batches written to the ledger now. */
  batches: number;
  /** Batches skipped because their id was already committed (then acknowledged). */
  skipped: number;
  /** Ledger rows inserted. */
  rows: number;
  /** Events inserted. */
  events: number;
  durationMs: number;
}

export interface FlusherOptions {
  store: CounterStore;
  sql: SqlClient;
  /** Pause between flushes (after one finished). Defaults to 5000 ms; at least 50. */
  intervalMs?: number;
  /** Shards claimed per round. Defaults to 500. */
  maxTags?: number;
  /** Rounds per flush while claims keep coming back full. Defaults to 20. */
  maxRounds?: number;
  /** A claim older than this (its flusher died) is handed out again under the same batch id. Defaults to 30 000 ms. */
  staleAfterMs?: number;
  /** First retry delay after a failed flush; doubles up to `maxBackoffMs`. Defaults to 250 ms. */
  initialBackoffMs?: number;
  /** Longest retry delay. Defaults to 10 000 ms. */
  maxBackoffMs?: number;
  /** Months of ledger kept (see `oldestKeptMonth`); older partitions and events are dropped. Defaults to null: keep all. */
  retentionMonths?: number | null;
  /** How long committed batch ids are remembered; must exceed any stale-claim delay. Defaults to 7 days. */
  batchIdRetentionMs?: number;
  /** How often retention and batch-id pruning run. Defaults to 1 hour. */
  maintenanceIntervalMs?: number;
  /** Reports each successful flush (metrics). */
  onFlush?: (report: FlushReport) => void;
  /** Reports a failed flush or maintenance run; the flusher retries by itself. */
  onError?: (err: unknown, info: { phase: 'flush' | 'maintenance'; retryInMs: number | null }) => void;
  /** Test hooks around the commit (see `WriteHooks`). */
  hooks?: WriteHooks;
  /** Clock. Defaults to `Date.now`. */
  now?: () => number;
}

const MIN_INTERVAL_MS = 50;

export class Flusher {
  readonly intervalMs: number;
  private readonly opts: Required<
    Pick<
      FlusherOptions,
      | 'maxTags'
      | 'maxRounds'
      | 'staleAfterMs'
      | 'initialBackoffMs'
      | 'maxBackoffMs'
      | 'batchIdRetentionMs'
      | 'maintenanceIntervalMs'
    >
  >;
  private readonly store: CounterStore;
  private readonly sql: SqlClient;
  private readonly partitions: PartitionManager;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<FlushReport> | null = null;
  /** The run after the current one, shared by the flushOnce calls made while the current one runs. */
  private following: Promise<FlushReport> | null = null;
  private closed = false;
  private started = false;
  private failures = 0;
  private lastMaintenance = -Infinity;
  /** Claimed batches not yet acknowledged: retried first, never dropped. */
  private inHand: ClaimedBatch[] = [];
  /** When the last flush succeeded (epoch ms), or null before the first. */
  lastSuccessAt: number | null = null;

  constructor(private readonly options: FlusherOptions) {
    assertCounterStore(options.store);
    this.store = options.store;
    this.sql = options.sql;
    this.partitions = new PartitionManager(options.sql);
    this.now = options.now ?? Date.now;
    const interval = options.intervalMs ?? 5000;
    if (!Number.isFinite(interval) || interval < MIN_INTERVAL_MS) {
      throw new RangeError(`intervalMs must be a number >= ${MIN_INTERVAL_MS}, got ${interval}`);
    }
    this.intervalMs = interval;
    this.opts = {
      maxTags: options.maxTags ?? 500,
      maxRounds: options.maxRounds ?? 20,
      staleAfterMs: options.staleAfterMs ?? 30_000,
      initialBackoffMs: options.initialBackoffMs ?? 250,
      maxBackoffMs: options.maxBackoffMs ?? 10_000,
      batchIdRetentionMs: options.batchIdRetentionMs ?? 7 * 86_400_000,
      maintenanceIntervalMs: options.maintenanceIntervalMs ?? 3_600_000,
    };
  }

  /** Starts the timer (the first flush runs after one interval). */
  start(): this {
    if (this.closed) throw new Error('flusher is closed');
    if (!this.started) {
      this.started = true;
      this.schedule(this.intervalMs);
    }
    return this;
  }

  /** Batches claimed and not yet acknowledged (retried by the next flush). */
  get pending(): number {
    return this.inHand.length;
  }

  /**
   * Claims and writes everything unflushed now (up to `maxRounds` claims). Rejects when Postgres or the store fails;
   * nothing is lost (the batches stay claimed). A run already going may have claimed before what this call must
   * flush: the call waits for it and then runs again, that one run shared by every call made meanwhile.
   */
  flushOnce(): Promise<FlushReport> {
    if (this.running === null) {
      this.running = this.run().finally(() => {
        this.running = null;
      });
      return this.running;
    }
    this.following ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.following = null;
        return this.flushOnce();
      });
    return this.following;
  }

  /** Stops the timer, finishes the flush in progress, then flushes once more. */
  async close(): Promise<FlushReport> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
    return this.flushOnce();
  }

  private schedule(delay: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.tick(), delay);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    let delay = this.intervalMs;
    try {
      await this.flushOnce();
      this.failures = 0;
    } catch (err) {
      this.failures += 1;
      delay = Math.min(this.opts.maxBackoffMs, this.opts.initialBackoffMs * 2 ** (this.failures - 1));
      // Jitter keeps several flushers from retrying in lockstep after an outage.
      delay = Math.round(delay * (0.75 + Math.random() * 0.5));
      this.options.onError?.(err, { phase: 'flush', retryInMs: delay });
    }
    if (!this.closed && this.failures === 0) await this.maintain();
    this.schedule(delay);
  }

  /** Retention and batch-id pruning, at most once per `maintenanceIntervalMs`. */
  async maintain(force = false): Promise<void> {
    const now = this.now();
    if (!force && now - this.lastMaintenance < this.opts.maintenanceIntervalMs) return;
    this.lastMaintenance = now;
    try {
      await pruneFlushBatches(this.sql, new Date(now - this.opts.batchIdRetentionMs));
      const months = this.options.retentionMonths;
      if (months !== null && months !== undefined) {
        await this.partitions.dropExpired(months, now);
        await pruneEvents(this.sql, months, now);
      }
    } catch (err) {
      this.options.onError?.(err, { phase: 'maintenance', retryInMs: null });
    }
  }

  /**
   * One flush. Rounds are pipelined: while round N is written (Postgres busy), round N+1 is claimed
   * and round N-1 acknowledged. Writes stay sequential; each batch is still acknowledged only after
   * its own commit, so exactly-once does not depend on the overlap.
   */
  private async run(): Promise<FlushReport> {
    const started = this.now();
    const report: FlushReport = { batches: 0, skipped: 0, rows: 0, events: 0, durationMs: 0 };
    const background: Array<Promise<unknown>> = [];
    let failure: unknown = null;
    try {
      if (this.inHand.length > 0) {
        const retry = [...this.inHand];
        await this.write(retry, report);
        background.push(this.acknowledge(retry));
      }
      let next: Promise<ClaimedBatch[]> | null = this.claim();
      for (let round = 0; round < this.opts.maxRounds && next; round++) {
        const claimed: ClaimedBatch[] = await next;
        next = null;
        if (claimed.length === 0) break;
        if (claimed.length >= this.opts.maxTags && round + 1 < this.opts.maxRounds) {
          next = this.claim();
          background.push(next);
        }
        await this.write(claimed, report);
        background.push(this.acknowledge(claimed));
      }
    } catch (err) {
      failure = err;
    }
    // Settle every claim and acknowledgement still running, so none rejects unobserved.
    for (const r of await Promise.allSettled(background)) {
      if (r.status === 'rejected' && failure === null) failure = r.reason;
    }
    if (failure !== null) throw failure;
    report.durationMs = this.now() - started;
    this.lastSuccessAt = this.now();
    this.options.onFlush?.(report);
    return report;
  }

  /** Claims a round; its batches are in hand (retried by the next flush) until acknowledged. */
  private async claim(): Promise<ClaimedBatch[]> {
    const claimed = await this.store.claim({
      now: this.now(),
      maxTags: this.opts.maxTags,
      staleAfterMs: this.opts.staleAfterMs,
    });
    const held = new Set(this.inHand.map((b) => b.batchId));
    for (const b of claimed) if (!held.has(b.batchId)) this.inHand.push(b);
    return claimed;
  }

  private async write(batches: ClaimedBatch[], report: FlushReport): Promise<void> {
    const res = await writeBatches(this.sql, batches, {
      partitions: this.partitions,
      hooks: this.options.hooks,
    });
    report.batches += res.written.length;
    report.skipped += res.skipped.length;
    report.rows += res.rows;
    report.events += res.events;
  }

  /** Only after the commit: a crash before this leaves the batches claimed, to be re-issued and skipped. */
  private async acknowledge(batches: ClaimedBatch[]): Promise<void> {
    await this.store.ack(batches.map((b) => ({ batchId: b.batchId, tag: b.tag })));
    const done = new Set(batches.map((b) => b.batchId));
    this.inHand = this.inHand.filter((b) => !done.has(b.batchId));
  }
}
