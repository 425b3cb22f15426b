// The Tollgate instance: bounded store calls, fail-open buffering and replay, events, and the programmatic API.
import type { TollgateConfig } from '../config';
import { QuotaEngine, type Admission, type QuotaCheck, type QuotaStatus, type RecordResult } from '../engine';
import {
  ErrorCode,
  InvalidUsageError,
  QuotaExceededError,
  StoreUnavailableError,
  TollgateError,
} from '../errors';
import { hourBucket } from '../periods';
import type { ThresholdCrossing, UsageEventRecord } from '../store';
import type { Identity, ResolvedSubject } from '../subject';
import { validateRecord, type UsageRecord } from '../usage';
import { isStoreFailure, withDeadline } from './deadline';
import type { RejectedEvent } from './events';
import { OpIds } from './ids';
import { safeLog, WarnOnce, type TollgateLogger } from './logger';
import { resolveTollgateOptions, type ResolvedTollgateOptions, type TollgateOptions } from './options';
import { quotaRejection } from './problem';
import { ReplayBuffer, type PendingOp } from './replay-buffer';

/** An admission from the programmatic API; `degraded` when the store was unreachable and `failMode` is `open`. */
export type TollgateAdmission = Admission & { degraded: boolean };

export interface TollgateRecordResult extends RecordResult {
  /** True when the store was unreachable: the usage waits in the fail-open buffer (or was dropped if it was full). */
  buffered: boolean;
}

/** For `/readyz` and metrics. */
export interface TollgateHealth {
  /** True while the store is failing, or buffered usage still waits for it. */
  degraded: boolean;
  /** False since the last store call failed, until one succeeds. */
  storeAvailable: boolean;
  /** Operations waiting in the fail-open buffer. */
  buffered: number;
  /** Operations dropped because the buffer was full (`tollgate_usage_dropped_total`). */
  dropped: number;
  /** ISO time of the failure that started the current outage, or null. */
  failingSince: string | null;
  lastError: string | null;
}

/** Who a programmatic call is for: an identity, or just a user id. */
export type IdentityInput = Identity | string;

const SUBJECT_CACHE_MAX = 10_000;

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

export class Tollgate {
  readonly engine: QuotaEngine;
  readonly config: TollgateConfig;
  readonly options: ResolvedTollgateOptions;
  readonly ids = new OpIds();
  readonly warnOnce: WarnOnce;
  private readonly buffer: ReplayBuffer;
  /** tenant -> user -> plan ('' for none) -> subject: looked up with no key string built per request. */
  private readonly subjects = new Map<string, Map<string, Map<string, ResolvedSubject>>>();
  private subjectCount = 0;
  /** Subjects of calls with an API key, by key, tenant, user and plan (bounded like `subjects`). */
  private readonly keySubjects = new Map<string, ResolvedSubject>();
  /** The last subject resolved, by its three raw values: a busy subject's requests skip the maps (no hashing). */
  private lastTenant: string | null = null;
  private lastUser: string | null = null;
  private lastPlan: string | null = null;
  private lastSubject: ResolvedSubject | null = null;
  private droppedOps = 0;
  private failingSince: number | null = null;
  /** Subjects served degraded during the current outage: each gets one `store_degraded` event once the store is back. */
  private degraded = new Map<string, { subject: ResolvedSubject; operations: number }>();
  private lastError: string | null = null;
  private replayTimer: NodeJS.Timeout | null = null;
  private replaying: Promise<void> | null = null;
  private closed = false;
  private inflight = 0;
  private idleWaiters: Array<() => void> = [];

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
    this.logSettleFailure = failureLog(options.logger, 'Tollgate: usage could not be settled');
    this.buffer = new ReplayBuffer(options.failOpenBuffer);
    this.warnOnce = new WarnOnce(options.logger);
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
    // A call with an API key has the key's own scope too: resolved apart, so the plain subjects' caches stay as they are.
    if (apiKeyId !== null) return this.keySubjectOf(tenantId, userId, plan, apiKeyId);
    const last = this.lastSubject;
    if (last !== null && tenantId === this.lastTenant && userId === this.lastUser && plan === this.lastPlan) {
      return last;
    }
    const subject = this.lookUpSubject(tenantId, userId, plan);
    this.lastTenant = tenantId;
    this.lastUser = userId;
    this.lastPlan = plan;
    this.lastSubject = subject;
    return subject;
  }

  private keySubjectOf(
    tenantId: string | null,
    userId: string | null,
    plan: string | null,
    apiKeyId: string,
  ): ResolvedSubject {
    const cacheKey = `${apiKeyId}\u0000${tenantId ?? ''}\u0000${userId ?? ''}\u0000${plan ?? ''}`;
    const cached = this.keySubjects.get(cacheKey);
    if (cached !== undefined) return cached;
    // Resolves (and warns once about an unknown plan) as for the same identity without a key.
    this.lookUpSubject(tenantId, userId, plan);
    const subject = this.engine.resolve({ tenantId, userId, plan, apiKeyId });
    if (this.keySubjects.size >= SUBJECT_CACHE_MAX) this.keySubjects.clear();
    this.keySubjects.set(cacheKey, subject);
    return subject;
  }

  private lookUpSubject(
    tenantId: string | null,
    userId: string | null,
    plan: string | null,
  ): ResolvedSubject {
    const t = tenantId ?? '';
    const u = userId ?? '';
    const p = plan ?? '';
    const cached = this.subjects.get(t)?.get(u)?.get(p);
    if (cached !== undefined) return cached;
    const subject = this.engine.resolve({ tenantId, userId, plan });
    if (subject.unknownPlan) {
      this.warnOnce.warn(
        `plan:${plan}`,
        { code: ErrorCode.UnknownPlan, plan, defaultPlan: this.config.defaultPlan },
        `Tollgate: unknown plan "${plan}", metering on the default plan "${this.config.defaultPlan}"`,
      );
    }
    // Bounded: identities come from requests. Dropping everything at the cap is cheap and rare.
    if (this.subjectCount >= SUBJECT_CACHE_MAX) {
      this.subjects.clear();
      this.subjectCount = 0;
    }
    let byUser = this.subjects.get(t);
    if (byUser === undefined) this.subjects.set(t, (byUser = new Map()));
    let byPlan = byUser.get(u);
    if (byPlan === undefined) byUser.set(u, (byPlan = new Map()));
    byPlan.set(p, subject);
    this.subjectCount += 1;
    return subject;
  }

  /** Runs one store call under `storeTimeoutMs`, tracking whether the store is reachable. */
  async call<T>(work: () => Promise<T>): Promise<T> {
    let pending: Promise<T>;
    try {
      pending = work();
    } catch (err) {
      pending = Promise.reject(err);
    }
    try {
      const value = await withDeadline(pending, this.options.storeTimeoutMs);
      this.storeAnswered();
      return value;
    } catch (err) {
      if (isStoreFailure(err)) this.storeFailed(err);
      throw err;
    }
  }

  private storeAnswered(): void {
    if (this.failingSince !== null && this.degraded.size > 0) this.reportDegraded(this.failingSince);
    if (this.failingSince !== null) {
      safeLog(
        this.options.logger,
        'info',
        { code: ErrorCode.StoreUnavailable, downForMs: Date.now() - this.failingSince },
        'Tollgate: the counter store answers again',
      );
      this.failingSince = null;
    }
    if (this.buffer.size > 0) this.scheduleReplay(0);
  }

  private storeFailed(err: unknown): void {
    this.lastError = err instanceof Error ? err.message : String(err);
    if (this.failingSince === null) {
      this.failingSince = Date.now();
      safeLog(
        this.options.logger,
        'warn',
        { code: ErrorCode.StoreUnavailable, failMode: this.options.failMode, err: this.lastError },
        `Tollgate: the counter store is unreachable; failing ${this.options.failMode}`,
      );
    }
  }

  /**
   * Settles (or records) usage; when the store is unreachable the op waits in the fail-open buffer
   * and is replayed later with the same op id. Resolves null when buffered or dropped.
   */
  async settle(op: PendingOp): Promise<RecordResult | null> {
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

  /** Resolves when no settlement is in flight (each is bounded by `storeTimeoutMs`). */
  private idle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** `settle` for code that does not wait (after a response): failures are logged, never thrown. */
  settleInBackground(op: PendingOp): void {
    void this.settleQuietly(op);
  }

  /** `settleInBackground`, for code that waits for this one write (`flushUsage()`): never rejects. */
  settleQuietly(op: PendingOp): Promise<void> {
    return this.settle(op).then(() => undefined, this.logSettleFailure);
  }

  private readonly logSettleFailure: (err: unknown) => void;

  private applyPending(op: PendingOp): Promise<RecordResult> {
    if (op.refund !== undefined) return this.call(() => this.applyRefund(op, op.refund!));
    const ids = op.reservationIds;
    const settling =
      ids === undefined || ids.length === 0
        ? op.reservationId
        : op.reservationId === null
          ? ids
          : [op.reservationId, ...ids];
    return this.call(() =>
      this.engine.settle(op.subject, settling, op.records, { opId: op.opId, at: op.at }),
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

  /** Writes one `store_degraded` event per subject served degraded (through the flush path, off the request path). */
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
      this.call(() => this.engine.record(subject, [], { events: [event] })).catch((err: unknown) =>
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
      void this.flush();
    }, delayMs);
    this.replayTimer.unref();
  }

  /** Replays the fail-open buffer now (resolves when done or when the store fails again). Never rejects. */
  flush(): Promise<void> {
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
      const batch = this.buffer.take(this.failingSince === null ? 256 : 1);
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

  emitRejected(event: RejectedEvent): void {
    const cb = this.options.onRejected;
    if (!cb) return;
    try {
      cb(event);
    } catch (err) {
      this.callbackFailed('onRejected', err);
    }
  }

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
      this.keep({ subject, opId, reservationId: null, records: toRecords(amounts), at });
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
    return this.recordOp(identity, records, reservationId, opts.opId ?? `${reservationId}.settle`);
  }

  private async recordOp(
    identity: IdentityInput,
    records: UsageRecord[],
    reservationId: string | null,
    opId: string,
  ): Promise<TollgateRecordResult> {
    for (const r of records) validateRecord(this.config, r);
    const subject = this.subject(identity);
    const op: PendingOp = {
      subject,
      opId,
      reservationId,
      records: records.map(({ meter, amount: a, model, provider, estimated }) => ({
        meter,
        amount: a,
        model,
        provider,
        estimated,
      })),
      at: Date.now(),
    };
    const result = await this.settle(op);
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
    return {
      degraded: this.failingSince !== null || this.buffer.size > 0,
      storeAvailable: this.failingSince === null,
      buffered: this.buffer.size,
      dropped: this.droppedOps,
      failingSince: this.failingSince === null ? null : new Date(this.failingSince).toISOString(),
      lastError: this.lastError,
    };
  }

  /** Waits for settlements in flight, replays the buffer once more, stops the timer. Does not close the store (it is the caller's). */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      if (this.replayTimer) clearTimeout(this.replayTimer);
      this.replayTimer = null;
    }
    // Every call waits, not only the first: a later close() (requests still served after the first one) must not
    // resolve while the writes of what came since are in flight, or the caller closes the store under them.
    // Settlements still in flight either land or join the buffer; then the buffer gets its last chance.
    await this.idle();
    await this.engine.eventsKept();
    await this.flush();
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

function toRecords(amounts: Record<string, number>): UsageRecord[] {
  const out: UsageRecord[] = [];
  for (const meter of Object.keys(amounts)) out.push({ meter, amount: amounts[meter]! });
  return out;
}

/** A StoreUnavailableError for any store failure (ioredis errors included), keeping the original as `cause`. */
export function asStoreError(err: unknown): StoreUnavailableError {
  if (err instanceof StoreUnavailableError) return err;
  return new StoreUnavailableError(err instanceof Error ? err.message : String(err), { cause: err });
}

/** Creates the programmatic API: `consume`, `enforceQuota`, `record`, `settleReservation`, `check`, `status`, `health`, `close`. */
export function createTollgate(options: TollgateOptions): Tollgate {
  return new Tollgate(resolveTollgateOptions(options));
}
