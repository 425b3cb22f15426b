// The Tollgate instance: the engine behind a store guard (bounded calls) and the fail-open buffer, subjects, events,
// and the programmatic API.
import {
  type TollgateConfig,
  QuotaEngine,
  type QuotaCheck,
  type QuotaStatus,
  type RecordResult,
  ErrorCode,
  InvalidUsageError,
  QuotaExceededError,
  TollgateError,
  type ThresholdCrossing,
  type Identity,
  type ResolvedSubject,
  type UsageRecord,
} from '@tollgate/core';
import { asStoreError, isStoreFailure } from './deadline';
import type { RejectedEvent } from './events';
import { OpIds, settleIdOf, validateRecord } from '@tollgate/core/internal';
import { safeLog, WarnOnce, type TollgateLogger } from './logger';
import { resolveTollgateOptions, type ResolvedTollgateOptions, type TollgateOptions } from './options';
import { quotaRejection } from './problem';
import { FailOpenWriter } from './fail-open';
import type { PendingOp } from './replay-buffer';
import { StoreGuard } from './store-guard';
import { storeOp } from './store-ops';
import { SubjectCache } from './subjects';
import type {
  IdentityInput,
  TollgateAdmission,
  TollgateHealth,
  TollgateRecordResult,
} from './tollgate-results';

/** Logs a background store failure at `error`, with its Tollgate error code when it has one. */
function failureLog(logger: TollgateLogger, message: string): (err: unknown) => void {
  return (err) =>
    safeLog(
      logger,
      'error',
      { code: err instanceof TollgateError ? err.code : undefined, err: String(err) },
      message,
    );
}

/**
 * The programmatic API (`createTollgate`), and the store access the request engine shares with it. Members marked
 * `@internal` are that engine's plumbing (RequestMeter, settlement, leases), not API: they may change in any release.
 */
export class Tollgate {
  readonly engine: QuotaEngine;
  readonly config: TollgateConfig;
  readonly options: ResolvedTollgateOptions;
  /** @internal */
  readonly ids = new OpIds();
  /** @internal */
  readonly warnOnce: WarnOnce;
  private readonly guard: StoreGuard;
  private readonly writer: FailOpenWriter;
  private readonly subjects: SubjectCache;
  /** Prefer `createTollgate(options)`, which validates the options first. */
  constructor(options: ResolvedTollgateOptions) {
    this.options = options;
    this.config = options.config;
    this.engine = new QuotaEngine({
      store: options.store,
      config: options.config,
      baseline: options.baseline,
      reservationTtlMs: options.reservationTtlMs,
      // Off the admission's deadline: a slow store answering two ops in turn must not turn into a fail-open.
      onEventsFailed: failureLog(
        options.logger,
        'Tollgate: quota_exceeded/threshold events could not be kept',
      ),
    });
    // Around the engine: every store call bounded by the guard; writes the store did not take wait in the buffer.
    this.guard = new StoreGuard(options, (downSince) => this.writer.storeAnswered(downSince));
    this.writer = new FailOpenWriter(
      this.engine,
      this.guard,
      options,
      (subject, crossed) => this.emitThresholds(subject, crossed),
      failureLog(options.logger, 'Tollgate: usage could not be written'),
    );
    this.warnOnce = new WarnOnce(options.logger);
    this.subjects = new SubjectCache(this.engine, this.warnOnce);
  }

  get shadow(): boolean {
    return this.options.mode === 'shadow';
  }

  /** Resolves (and caches) the quota owner, plan and limits of an identity. Throws for an identity with no ids. */
  subject(identity: IdentityInput): ResolvedSubject {
    const id: Identity = typeof identity === 'string' ? { userId: identity } : identity;
    return this.subjectOf(id.tenantId ?? null, id.userId ?? null, id.plan ?? null, id.apiKeyId ?? null);
  }

  subjectOf(
    tenantId: string | null,
    userId: string | null,
    plan: string | null,
    apiKeyId: string | null = null,
  ): ResolvedSubject {
    return this.subjects.of(tenantId, userId, plan, apiKeyId);
  }

  /** @internal Runs one store call under `storeTimeoutMs`, tracking whether the store is reachable. */
  call<T>(work: () => Promise<T>): Promise<T> {
    return this.guard.call(work);
  }

  /**
   * @internal Writes one op to the store (a settlement, or usage to record); when the store is unreachable the op
   * waits in the fail-open buffer and is replayed later with the same op id. Resolves null when buffered or dropped.
   */
  write(op: PendingOp): Promise<RecordResult | null> {
    return this.writer.write(op);
  }

  /** @internal `write` for code that does not wait (after a response): failures are logged, never thrown. */
  writeInBackground(op: PendingOp): void {
    this.writer.writeInBackground(op);
  }

  /** @internal `writeInBackground`, for code that waits for this one write (`flushUsage()`): never rejects. */
  writeQuietly(op: PendingOp): Promise<void> {
    return this.writer.writeQuietly(op);
  }

  /** @internal `write` for a response waiting for its usage: true once acknowledged, false when buffered or failed (logged). */
  writeAcked(op: PendingOp): Promise<boolean> {
    return this.writer.writeAcked(op);
  }

  /** @internal Buffers an op for replay without trying it now (the store just failed on the op it replaces). */
  defer(op: PendingOp): void {
    this.writer.defer(op);
  }

  /** Replays the fail-open buffer now (resolves when done or when the store fails again). Never rejects. */
  replay(): Promise<void> {
    return this.writer.replay();
  }

  /** @internal */
  emitThresholds(subject: ResolvedSubject, crossed: readonly ThresholdCrossing[]): void {
    const cb = this.options.onThreshold;
    if (!cb || crossed.length === 0) return;
    for (const c of crossed) {
      try {
        cb({ ...c, tenantId: subject.tenantId, userId: subject.userId, plan: subject.plan });
      } catch (err) {
        this.callbackFailed('onThreshold', err);
      }
    }
  }

  /** @internal */
  emitRejected(event: RejectedEvent): void {
    const cb = this.options.onRejected;
    if (!cb) return;
    try {
      cb(event);
    } catch (err) {
      this.callbackFailed('onRejected', err);
    }
  }

  /** @internal */
  callbackFailed(name: string, err: unknown): void {
    safeLog(
      this.options.logger,
      'error',
      {
        code: ErrorCode.CallbackFailed,
        callback: name,
        err: err instanceof Error ? err.message : String(err),
      },
      `Tollgate: ${name} threw; ignored`,
    );
  }

  // ---- Programmatic API (queues, cron jobs, anything that is not an HTTP handler) ----

  /**
   * Atomically consumes `amounts` if every applicable limit has room (and holds `reserve`). Reports the
   * truth in every mode. Store unreachable: `failMode: 'open'` admits (degraded) and buffers the
   * amounts; `'closed'` throws StoreUnavailableError.
   */
  async consume(
    identity: IdentityInput,
    amounts: Record<string, number>,
    opts: { reserve?: Record<string, number>; opId?: string } = {},
  ): Promise<TollgateAdmission> {
    const subject = this.subject(identity);
    const opId = opts.opId ?? this.ids.next();
    const at = Date.now();
    try {
      const admission = await this.call(() =>
        this.engine.consume(subject, amounts, { opId, reserve: opts.reserve, reservationId: opId }),
      );
      if (admission.admitted) this.emitThresholds(subject, admission.thresholds);
      return { ...admission, degraded: false };
    } catch (err) {
      if (!isStoreFailure(err)) throw err;
      if (this.options.failMode === 'closed') throw asStoreError(err);
      // Same op id: if the consume did reach the store, the replay is recognised and changes nothing.
      this.writer.defer(storeOp(subject, opId, { records: toRecords(amounts), at }));
      return {
        admitted: true,
        reservationId: null,
        counters: [],
        thresholds: [],
        duplicate: false,
        degraded: true,
      };
    }
  }

  /** Consumes `amount` of `meter` or throws QuotaExceededError (its `problem` and `status` are ready to send). */
  enforceQuota(
    identity: IdentityInput,
    meter: string,
    amount = 1,
    opts: { reserve?: Record<string, number>; opId?: string } = {},
  ): Promise<TollgateAdmission> {
    return this.enforceMultipleQuotas(identity, { [meter]: amount }, opts);
  }

  /** Consumes every amount, all or nothing, or throws QuotaExceededError naming the limit that resets last. In shadow mode it reports and records instead of throwing. */
  async enforceMultipleQuotas(
    identity: IdentityInput,
    amounts: Record<string, number>,
    opts: { reserve?: Record<string, number>; opId?: string } = {},
  ): Promise<TollgateAdmission> {
    const admission = await this.consume(identity, amounts, opts);
    if (admission.admitted) return admission;
    const subject = this.subject(identity);
    const rejection = quotaRejection(admission.violation, Date.now());
    this.emitRejected({
      reason: 'quota',
      status: rejection.status,
      shadow: this.shadow,
      tenantId: subject.tenantId,
      userId: subject.userId,
      violation: admission.violation,
      problem: rejection.problem,
    });
    if (this.shadow) {
      // Under the caller's op id (the store keeps it apart from the rejected consume's), so a retry counts once.
      const recorded = await this.record(identity, toRecords(amounts), undefined, { opId: opts.opId });
      return {
        admitted: true,
        reservationId: null,
        counters: recorded.counters,
        thresholds: recorded.thresholds,
        duplicate: recorded.duplicate,
        degraded: recorded.buffered,
      };
    }
    throw new QuotaExceededError(rejection.problem.detail, rejection);
  }

  /**
   * Records usage that already happened (never rejected): `record(id, 'output_tokens', 300, { model })` or
   * `record(id, [{ meter, amount, model }, ...])`. Buffered when the store is unreachable.
   */
  async record(
    identity: IdentityInput,
    meterOrRecords: string | UsageRecord | UsageRecord[],
    amount?: number,
    opts: { model?: string; provider?: string; estimated?: boolean; opId?: string } = {},
  ): Promise<TollgateRecordResult> {
    const records: UsageRecord[] =
      typeof meterOrRecords === 'string'
        ? [
            {
              meter: meterOrRecords,
              amount: amount ?? 1,
              model: opts.model,
              provider: opts.provider,
              estimated: opts.estimated,
            },
          ]
        : Array.isArray(meterOrRecords)
          ? meterOrRecords
          : [meterOrRecords];
    return this.recordOp(identity, records, null, opts.opId ?? this.ids.next());
  }

  /**
   * Ends a reservation made by `consume(..., { reserve })` (its `reservationId`): the reserved amounts are replaced
   * by `records`, what was actually used (`[]` releases it all). Idempotent: a retry with the same op id (by default
   * derived from the reservation id) changes nothing. Buffered like `record` when the store is unreachable.
   */
  settleReservation(
    identity: IdentityInput,
    reservationId: string,
    records: UsageRecord[],
    opts: { opId?: string } = {},
  ): Promise<TollgateRecordResult> {
    // A degraded consume has no id: settling "null" would share one op id between calls and drop all but the first.
    if (typeof reservationId !== 'string' || reservationId === '') {
      return Promise.reject(
        new InvalidUsageError(
          `settleReservation needs the reservationId consume() returned, got ${String(reservationId)} (a consume the store did not answer has none: record() the usage)`,
        ),
      );
    }
    return this.recordOp(identity, records, reservationId, opts.opId ?? settleIdOf(reservationId));
  }

  private async recordOp(
    identity: IdentityInput,
    records: UsageRecord[],
    reservationId: string | null,
    opId: string,
  ): Promise<TollgateRecordResult> {
    for (const r of records) validateRecord(this.config, r);
    const subject = this.subject(identity);
    const op = storeOp(subject, opId, {
      settles: reservationId,
      records: records.map(({ meter, amount: a, model, provider, estimated }) => ({
        meter,
        amount: a,
        model,
        provider,
        estimated,
      })),
    });
    const result = await this.write(op);
    if (result) return { ...result, buffered: false };
    return { counters: [], thresholds: [], unpriced: [], costPico: 0n, duplicate: false, buffered: true };
  }

  check(
    identity: IdentityInput,
    meter: 'cost',
    amount?: string,
  ): Promise<{ allowed: boolean; remaining: string | null }>;
  check(
    identity: IdentityInput,
    meter: string,
    amount?: number,
  ): Promise<{ allowed: boolean; remaining: number | null }>;
  /**
   * Whether `amount` more of `meter` fits, without consuming; `remaining` is the least over every limit. `cost` is a
   * USD decimal string both ways (default `"0"`); other meters take an integer >= 0 (default 1).
   */
  check(identity: IdentityInput, meter: string, amount?: number | string): Promise<QuotaCheck> {
    const subject = this.subject(identity);
    const wanted = amount ?? (meter === 'cost' ? '0' : 1);
    return this.call(() => this.engine.check(subject, meter, wanted));
  }

  /** Real-time quota status in the `/usage/quota` shape. */
  status(identity: IdentityInput): Promise<QuotaStatus> {
    const subject = this.subject(identity);
    return this.call(() => this.engine.status(subject));
  }

  health(): TollgateHealth {
    const since = this.guard.failingSince;
    return {
      degraded: since !== null || this.writer.size > 0,
      storeAvailable: since === null,
      buffered: this.writer.size,
      dropped: this.writer.dropped,
      failingSince: since === null ? null : new Date(since).toISOString(),
      lastError: this.guard.lastError,
    };
  }

  /** Waits for writes in flight, replays the buffer once more, stops the timer. Does not close the store (it is the caller's). */
  close(): Promise<void> {
    return this.writer.close();
  }
}

function toRecords(amounts: Record<string, number>): UsageRecord[] {
  const out: UsageRecord[] = [];
  for (const meter of Object.keys(amounts)) out.push({ meter, amount: amounts[meter]! });
  return out;
}

/** Creates the programmatic API: `consume`, `enforceQuota`, `record`, `settleReservation`, `check`, `status`, `health`, `close`. */
export function createTollgate(options: TollgateOptions): Tollgate {
  return new Tollgate(resolveTollgateOptions(options));
}
