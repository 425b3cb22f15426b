// The fail-open buffer around the engine: an op the store did not answer waits in process (bounded) and is replayed
// under its op id once the store answers again; subjects served meanwhile get one `store_degraded` event each.
import {
  type QuotaEngine,
  type RecordResult,
  ErrorCode,
  type TollgateError,
  type ThresholdCrossing,
  type UsageEventRecord,
  type ResolvedSubject,
} from '@tollgate/core';
import { hourBucket } from '@tollgate/core/internal';
import { isStoreFailure } from './deadline';
import { safeLog } from './logger';
import type { ResolvedTollgateOptions } from './options';
import { ReplayBuffer, type PendingOp } from './replay-buffer';
import type { StoreGuard } from './store-guard';

export class FailOpenWriter {
  private readonly buffer: ReplayBuffer;
  private droppedOps = 0;
  /** Subjects served degraded during the current outage: each gets one `store_degraded` event once the store is back. */
  private degraded = new Map<string, { subject: ResolvedSubject; operations: number }>();
  private replayTimer: NodeJS.Timeout | null = null;
  private replaying: Promise<void> | null = null;
  private closed = false;
  private inflight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly engine: QuotaEngine,
    private readonly guard: StoreGuard,
    private readonly options: ResolvedTollgateOptions,
    private readonly emitThresholds: (
      subject: ResolvedSubject,
      crossed: readonly ThresholdCrossing[],
    ) => void,
    private readonly logWriteFailure: (err: unknown) => void,
  ) {
    this.buffer = new ReplayBuffer(options.failOpenBuffer);
  }

  /** Operations waiting for replay. */
  get size(): number {
    return this.buffer.size;
  }

  /** Operations dropped because the buffer was full. */
  get dropped(): number {
    return this.droppedOps;
  }

  /** The store answered again (after an outage begun at `downSince`, or none): report it, replay soon. */
  storeAnswered(downSince: number | null): void {
    if (downSince !== null && this.degraded.size > 0) this.reportDegraded(downSince);
    if (this.buffer.size > 0) this.scheduleReplay(0);
  }

  /**
   * Writes one op to the store (a settlement, or usage to record); when the store is unreachable the op waits in the
   * fail-open buffer and is replayed later with the same op id. Resolves null when buffered or dropped.
   */
  async write(op: PendingOp): Promise<RecordResult | null> {
    this.inflight += 1;
    try {
      const result = await this.applyPending(op);
      this.emitThresholds(op.subject, result.thresholds);
      return result;
    } catch (err) {
      if (!isStoreFailure(err)) throw err;
      this.keep(op);
      return null;
    } finally {
      this.inflight -= 1;
      if (this.inflight === 0 && this.idleWaiters.length > 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Resolves when no write is in flight (each is bounded by `storeTimeoutMs`). */
  private idle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** `write` for code that does not wait (after a response): failures are logged, never thrown. */
  writeInBackground(op: PendingOp): void {
    void this.writeQuietly(op);
  }

  /** `writeInBackground`, for code that waits for this one write (`flushUsage()`): never rejects. */
  writeQuietly(op: PendingOp): Promise<void> {
    return this.write(op).then(() => undefined, this.logWriteFailure);
  }

  /** `write` for a response waiting for its usage: true once acknowledged, false when buffered or failed (logged). */
  writeAcked(op: PendingOp): Promise<boolean> {
    return this.write(op).then(
      (result) => result !== null,
      (err: unknown) => {
        this.logWriteFailure(err);
        return false;
      },
    );
  }

  private applyPending(op: PendingOp): Promise<RecordResult> {
    if (op.refund !== undefined) return this.guard.call(() => this.applyRefund(op, op.refund!));
    const ids = op.reservationIds;
    const settling =
      ids === undefined || ids.length === 0
        ? op.reservationId
        : op.reservationId === null
          ? ids
          : [op.reservationId, ...ids];
    return this.guard.call(() =>
      this.engine.settle(op.subject, settling, op.records, { opId: op.opId, at: op.at, split: op.split }),
    );
  }

  /**
   * The one op the engine has no method for: a negative `requests` correction (counters and ledger), so an
   * admitted request that never ran counts nothing. Built on the store contract (record mode applies any amount).
   */
  private async applyRefund(op: PendingOp, requests: number): Promise<RecordResult> {
    const s = op.subject;
    const result = await this.options.store.apply({
      opId: op.opId,
      tag: s.tag,
      now: op.at,
      mode: 'record',
      scopes: s.scopes,
      windows: this.engine.windowsAt(op.at),
      limits: s.limits,
      amounts: [{ meter: 'requests', amount: -requests }],
      usage: [
        {
          tenantId: s.tenantId,
          userId: s.userId,
          meter: 'requests',
          model: null,
          bucketStart: hourBucket(op.at),
          amount: -requests,
          costPico: '0',
        },
      ],
      settle: op.reservationId === null ? undefined : { id: op.reservationId },
      settleIds: op.reservationIds,
      warnAt: [],
      // Like the engine: with a baseline, an unseeded shard answers needs-seed, and then it has nothing to refund.
      seed: this.options.baseline ? 'required' : 'auto',
    });
    return {
      counters: result.status === 'applied' ? result.counters : [],
      thresholds: [],
      unpriced: [],
      costPico: 0n,
      duplicate: result.status === 'duplicate',
    };
  }

  /** Buffers an op for replay without trying it now (the store just failed on the op it replaces). */
  defer(op: PendingOp): void {
    this.keep(op);
  }

  /** Writes one `store_degraded` event per subject served degraded (off the request path). */
  private reportDegraded(since: number): void {
    const affected = this.degraded;
    this.degraded = new Map();
    const until = Date.now();
    for (const { subject, operations } of affected.values()) {
      const event: UsageEventRecord = {
        type: 'store_degraded',
        tenantId: subject.tenantId,
        userId: subject.userId,
        meter: null,
        period: null,
        details: {
          from: new Date(since).toISOString(),
          until: new Date(until).toISOString(),
          failMode: this.options.failMode,
          operationsBuffered: operations,
        },
        occurredAt: since,
      };
      this.guard
        .call(() => this.engine.record(subject, [], { events: [event] }))
        .catch((err: unknown) =>
          safeLog(
            this.options.logger,
            'warn',
            { code: ErrorCode.StoreUnavailable, err: err instanceof Error ? err.message : String(err) },
            'Tollgate: could not record a store_degraded event',
          ),
        );
    }
  }

  private noteDegraded(subject: ResolvedSubject): void {
    const key = `${subject.tenantId ?? ''}\u0000${subject.userId ?? ''}`;
    const seen = this.degraded.get(key);
    if (seen) seen.operations += 1;
    // Bounded: an outage seen by a million subjects reports the first 10 000.
    else if (this.degraded.size < 10_000) this.degraded.set(key, { subject, operations: 1 });
  }

  private keep(op: PendingOp): void {
    this.noteDegraded(op.subject);
    if (this.buffer.push(op)) {
      this.scheduleReplay(this.options.replayIntervalMs);
      return;
    }
    this.droppedOps += 1;
    if (this.droppedOps === 1 || this.droppedOps % 10_000 === 0) {
      safeLog(
        this.options.logger,
        'error',
        { code: ErrorCode.UsageDropped, dropped: this.droppedOps, capacity: this.buffer.capacity },
        `Tollgate: the fail-open buffer is full (${this.buffer.capacity} operations); usage is being dropped`,
      );
    }
  }

  private scheduleReplay(delayMs: number): void {
    if (this.closed || this.replayTimer !== null || this.replaying !== null || this.buffer.size === 0) return;
    this.replayTimer = setTimeout(() => {
      this.replayTimer = null;
      void this.replay();
    }, delayMs);
    this.replayTimer.unref();
  }

  /** Replays the fail-open buffer now (resolves when done or when the store fails again). Never rejects. */
  replay(): Promise<void> {
    if (this.replaying === null) {
      this.replaying = this.drain().finally(() => {
        this.replaying = null;
        this.scheduleReplay(this.options.replayIntervalMs);
      });
    }
    return this.replaying;
  }

  private async drain(): Promise<void> {
    let replayed = 0;
    while (this.buffer.size > 0) {
      // While the store is down, probe with one op instead of failing a whole batch.
      const batch = this.buffer.take(this.guard.failingSince === null ? 256 : 1);
      const results = await Promise.allSettled(batch.map((op) => this.applyPending(op)));
      const failed: PendingOp[] = [];
      results.forEach((r, i) => {
        const op = batch[i]!;
        if (r.status === 'fulfilled') {
          replayed += 1;
          this.emitThresholds(op.subject, r.value.thresholds);
        } else if (isStoreFailure(r.reason)) {
          failed.push(op);
        } else {
          safeLog(
            this.options.logger,
            'error',
            { code: (r.reason as TollgateError).code, err: String(r.reason), opId: op.opId },
            'Tollgate: a buffered operation can never apply; dropped',
          );
        }
      });
      this.buffer.release(batch.length, failed);
      if (failed.length > 0) break;
    }
    if (replayed > 0) {
      safeLog(
        this.options.logger,
        'info',
        { replayed, buffered: this.buffer.size },
        'Tollgate: replayed buffered usage',
      );
    }
  }

  /** Stops replaying on a timer after one last replay, once the writes in flight have landed or joined the buffer. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      if (this.replayTimer) clearTimeout(this.replayTimer);
      this.replayTimer = null;
    }
    // Every call waits, not only the first: a later close() (requests still served after the first one) must not
    // resolve while the writes of what came since are in flight, or the caller closes the store under them.
    await this.idle();
    await this.engine.eventsKept();
    await this.replay();
    if (this.buffer.size > 0) {
      safeLog(
        this.options.logger,
        'error',
        { code: ErrorCode.UsageDropped, lost: this.buffer.size },
        'Tollgate: closed with usage still buffered (the store never came back)',
      );
    }
  }
}
