// QuotaEngine: the store-independent API adapters and apps call (consume, reserve/settle, record, status, check, overrides).
import { randomUUID } from 'node:crypto';
import { isConfiguredMeter, type TollgateConfig } from './config';
import { InvalidUsageError, StoreUnavailableError } from './errors';
import { apiAmount, isLimitValue, isUsdAmount, picoToUsd, usdToPico } from './money';
import { currentWindows, type Period, type PeriodWindow } from './periods';
import { PriceBook } from './pricing';
import {
  assertCounterStore,
  type ApplyOp,
  type ApplyResult,
  type CounterState,
  type CounterStore,
  type MeterAmount,
  type OverrideEntry,
  type ReadResult,
  type Scope,
  type ScopeRef,
  type ThresholdCrossing,
  type UsageEventRecord,
} from './store';
import {
  overrideTarget,
  resolveSubject,
  type Identity,
  type OverrideTargetInput,
  type ResolvedSubject,
} from './subject';
import { expandUsage, type UsageRecord } from './usage';
import { afterRejectionIdOf } from './op-ids';

/** One counter's window, asked of the ledger when a shard must be rebuilt. */
export interface BaselineQuery extends ScopeRef {
  tenantId: string | null;
  userId: string | null;
  /**
   * For a user scope: true when the user's quota spans every tenant (`subject: user`), so rows of any
   * tenant count; false when it covers only rows of `tenantId` (a cap inside a tenant, or no tenant).
   */
  allTenants: boolean;
  meter: string;
  period: Period;
  periodStart: Date;
  /** End of the window (exclusive); null for `total`. */
  periodEnd: Date | null;
}

/**
 * The shard a rebuild restores overrides into, under `subject: tenant`: a user's overrides set in `tenantId` only
 * (null: the user's tenantless ones). Under `subject: user` none is given: a user's shard takes all of its own.
 */
export interface OverrideShard {
  tenantId: string | null;
}

/** Where lost counter state is rebuilt from (the ledger): usage so far in a window, and durable overrides. */
export interface BaselineSource {
  used(q: BaselineQuery): Promise<number>;
  /** `used` for many queries at once, in the order asked (a rebuild's in one round trip); optional. */
  usedMany?(qs: readonly BaselineQuery[]): Promise<number[]>;
  overrides?(scopes: ScopeRef[], shard?: OverrideShard): Promise<OverrideEntry[]>;
  /** `overrides` and `usedMany` in one round trip (a cold subject's first request waits on it); optional. */
  shardBaseline?(
    scopes: ScopeRef[],
    shard: OverrideShard | undefined,
    qs: readonly BaselineQuery[],
  ): Promise<{ overrides: OverrideEntry[]; used: number[] }>;
}

export interface QuotaEngineOptions {
  store: CounterStore;
  config: TollgateConfig;
  /** Rebuilds counters when the store lost them. Without it, a fresh shard starts at zero. */
  baseline?: BaselineSource | ((q: BaselineQuery) => Promise<number>);
  /** How long an unsettled reservation holds its amount. Defaults to 5 minutes. */
  reservationTtlMs?: number;
  /** Clock, for tests. Defaults to `Date.now`. */
  now?: () => number;
  /**
   * When set, the store op that keeps `quota_exceeded` and `threshold` events for the flusher runs after
   * `consume`/`record` return instead of before, and its failure comes here. A caller that bounds each call by a
   * deadline (the request path) sets it: the events op must not eat into the admission's time. Defaults to none
   * (the events op is awaited, and its failure fails the call).
   */
  onEventsFailed?: (err: unknown) => void;
}

export interface Violation extends CounterState {
  scope: Scope;
}

export type Admission =
  | {
      admitted: true;
      reservationId: string | null;
      counters: CounterState[];
      thresholds: ThresholdCrossing[];
      /** True when this op id had already been applied (a retry or replay). */
      duplicate: boolean;
    }
  | { admitted: false; violation: Violation; counters: CounterState[]; duplicate: boolean };

export interface ConsumeOptions {
  opId?: string;
  /** Amounts known only later (tokens, cost), held against the limits until settled. */
  reserve?: Record<string, number>;
  /** Id of the reservation, so a caller can settle it even when this call's answer was lost. Defaults to a random id. */
  reservationId?: string;
  reservationTtlMs?: number;
  /**
   * More reservations held by this one op, each under its own id (several requests admitted together, each
   * settling its own estimate later): all are held with the admission, or none. Defaults to none.
   */
  reserves?: Array<{ id: string; amounts: Record<string, number> }>;
  /** Extra ledger records kept when admitted (beyond the consumed amounts). */
  records?: UsageRecord[];
  /**
   * Count a rejection in `rejected` (the ledger). False for ops no request stands behind (an admission lease
   * that does not fit rejects no request). Defaults to true.
   */
  countRejected?: boolean;
}

/**
 * `requests` of admission leases, whose two halves are written apart: the counters learn a lease's used units when
 * it closes (its reservation held them until then), the ledger learns each request's unit as its response ends.
 * `countersOnly` may be negative (a unit given back); `ledgerOnly` is never.
 */
export interface SplitRequests {
  countersOnly?: number;
  ledgerOnly?: number;
}

export interface RecordResult {
  counters: CounterState[];
  thresholds: ThresholdCrossing[];
  unpriced: string[];
  costPico: bigint;
  duplicate: boolean;
}

export interface QuotaLine {
  limit: number | string;
  used: number | string;
  remaining: number | string | null;
  percentage: number;
  resetsAt: string | null;
}

export interface QuotaStatus {
  plan: string;
  subject: { tenantId: string | null; userId: string | null };
  quotas: Record<string, Partial<Record<Period, QuotaLine>>>;
  userQuotas: Record<string, Partial<Record<Period, QuotaLine>>>;
  /** The API key's own caps (keyLimits and key overrides) when the call named a key; otherwise absent. */
  keyQuotas?: Record<string, Partial<Record<Period, QuotaLine>>>;
  anyExceeded: boolean;
}

/** Picks the violation named in a 429: the one that resets last (`total`, never resetting, first). */
export function latestResetting<T extends { resetsAt: number | null }>(list: readonly T[]): T {
  let best = list[0]!;
  for (const v of list) {
    if (best.resetsAt === null) break;
    if (v.resetsAt === null || v.resetsAt > best.resetsAt) best = v;
  }
  return best;
}

/** 0-100 with at most two decimals; unlimited is 0. */
export function percentage(used: number, limit: number): number {
  if (limit < 0) return 0;
  if (limit === 0) return used > 0 ? 100 : 0;
  return Math.round((used / limit) * 10_000) / 100;
}

/** `check()`'s answer: `remaining` is a USD decimal string for `cost`, else a count. */
export interface QuotaCheck {
  allowed: boolean;
  remaining: number | string | null;
}

/** A `check()` amount of a counted meter, or InvalidUsageError. */
function checkedAmount(meter: string, amount: number | string): number {
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0) {
    throw new InvalidUsageError(`amount for "${meter}" must be an integer >= 0, got ${String(amount)}`);
  }
  return amount;
}

function quotaLine(c: CounterState): QuotaLine {
  const unlimited = c.limit < 0;
  const remaining = unlimited ? null : Math.max(0, c.limit - c.used);
  return {
    limit: apiAmount(c.meter, c.limit),
    used: apiAmount(c.meter, c.used),
    remaining: remaining === null ? null : apiAmount(c.meter, remaining),
    percentage: percentage(c.used, c.limit),
    resetsAt: c.resetsAt === null ? null : new Date(c.resetsAt).toISOString(),
  };
}

export class QuotaEngine {
  readonly config: TollgateConfig;
  readonly store: CounterStore;
  readonly prices: PriceBook;
  private readonly baseline: BaselineSource | null;
  private readonly reservationTtlMs: number;
  private readonly onEventsFailed: ((err: unknown) => void) | null;
  /** Events ops running in the background (see `onEventsFailed`), for `eventsKept()`. */
  private readonly keepingEvents = new Set<Promise<void>>();
  private readonly now: () => number;
  private windows: { until: number; list: PeriodWindow[] } = { until: -Infinity, list: [] };
  private readonly seeding = new Map<string, Promise<void>>();

  constructor(options: QuotaEngineOptions) {
    assertCounterStore(options.store);
    this.store = options.store;
    this.config = options.config;
    this.prices = new PriceBook(options.config.pricing);
    const b = options.baseline;
    this.baseline = b === undefined ? null : typeof b === 'function' ? { used: b } : b;
    this.reservationTtlMs = options.reservationTtlMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
    this.onEventsFailed = options.onEventsFailed ?? null;
  }

  resolve(identity: Identity): ResolvedSubject {
    return resolveSubject(this.config, identity);
  }

  /** Current windows of all periods; every boundary is a minute boundary, so they are cached until the next one. */
  windowsAt(now: number): PeriodWindow[] {
    if (now >= this.windows.until || now < this.windows.until - 60_000) {
      const list = currentWindows(now, this.config.timezone);
      this.windows = { until: list[0]!.resetsAt!, list };
    }
    return this.windows.list;
  }

  private baseOp(
    subject: ResolvedSubject,
    now: number,
  ): Pick<ApplyOp, 'tag' | 'now' | 'scopes' | 'windows' | 'limits' | 'warnAt' | 'seed'> {
    return {
      tag: subject.tag,
      now,
      scopes: subject.scopes,
      windows: this.windowsAt(now),
      limits: subject.limits,
      warnAt: this.config.warnAt,
      seed: this.baseline ? 'required' : 'auto',
    };
  }

  /**
   * A whole ApplyOp built as one literal: `{ ...this.baseOp(), ... }` cost microseconds per call on the admission
   * path (V8 clones the object, then transitions it field by field), more than the rest of consume together.
   */
  private applyOp(
    subject: ResolvedSubject,
    now: number,
    opId: string,
    mode: ApplyOp['mode'],
    amounts: MeterAmount[],
    usage: ApplyOp['usage'],
  ): ApplyOp {
    return {
      opId,
      tag: subject.tag,
      now,
      mode,
      scopes: subject.scopes,
      windows: this.windowsAt(now),
      limits: subject.limits,
      amounts,
      usage,
      warnAt: this.config.warnAt,
      seed: this.baseline ? 'required' : 'auto',
    };
  }

  /** Runs a store call, seeding the shard from the baseline source first when the store asks for it. */
  private async seeded<T extends ApplyResult | ReadResult>(
    subject: ResolvedSubject,
    call: () => Promise<T>,
  ): Promise<Exclude<T, { status: 'needs-seed' }>> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const result = await call();
      if (result.status !== 'needs-seed') return result as Exclude<T, { status: 'needs-seed' }>;
      await this.seedShard(subject);
    }
    throw new StoreUnavailableError(`shard ${subject.tag} stayed unseeded after seeding`);
  }

  /** Rebuilds a shard's counters from the baseline source; concurrent callers share one rebuild. */
  seedShard(subject: ResolvedSubject): Promise<void> {
    const running = this.seeding.get(subject.tag);
    if (running) return running;
    const job = this.rebuild(subject).finally(() => this.seeding.delete(subject.tag));
    this.seeding.set(subject.tag, job);
    return job;
  }

  private async rebuild(subject: ResolvedSubject): Promise<void> {
    const now = this.now();
    const windows = this.windowsAt(now);
    const source = this.baseline;
    // Only this shard's: alice's cap in another tenant is another override (see OverrideShard).
    const shard: OverrideShard | undefined =
      this.config.subject === 'tenant'
        ? { tenantId: subject.owner.scope === 'tenant' ? subject.owner.id : null }
        : undefined;
    type Wanted = { scope: ScopeRef; meter: string; window: PeriodWindow };
    const wanted = new Map<string, Wanted>();
    /** The counter newly wanted, or null when it is wanted already. */
    const addWanted = (scope: ScopeRef, meter: string, period: Period): Wanted | null => {
      const key = `${scope.scope}\u0000${scope.id}\u0000${meter}\u0000${period}`;
      if (wanted.has(key)) return null;
      const w = { scope, meter, window: windows.find((x) => x.period === period)! };
      wanted.set(key, w);
      return w;
    };
    const queryOf = ({ scope, meter, window }: Wanted): BaselineQuery => ({
      scope: scope.scope,
      id: scope.id,
      tenantId: scope.scope === 'tenant' ? scope.id : subject.tenantId,
      userId: scope.scope === 'user' ? scope.id : null,
      allTenants: scope.scope === 'user' && this.config.subject === 'user',
      meter,
      period: window.period,
      periodStart: new Date(window.start),
      periodEnd: window.resetsAt === null ? null : new Date(window.resetsAt),
    });
    const usedOf = async (qs: BaselineQuery[]): Promise<number[]> =>
      !source || qs.length === 0
        ? qs.map(() => 0)
        : source.usedMany
          ? source.usedMany(qs)
          : Promise.all(qs.map((q) => source.used(q)));
    for (const l of subject.limits) addWanted(l, l.meter, l.period);
    const planned = [...wanted.values()];
    // The plan's limits are known before the overrides: one round trip for both when the source can.
    let overrides: OverrideEntry[];
    let used: number[];
    if (source?.shardBaseline) {
      ({ overrides, used } = await source.shardBaseline(subject.scopes, shard, planned.map(queryOf)));
    } else {
      overrides = source?.overrides ? await source.overrides(subject.scopes, shard) : [];
      used = await usedOf(planned.map(queryOf));
    }
    // An override can limit what the plan does not (rare): those counters are read on their own.
    const extra: Wanted[] = [];
    for (const o of overrides) {
      const w = o.limit === null ? null : addWanted(o, o.meter, o.period);
      if (w) extra.push(w);
    }
    used = [...used.slice(0, planned.length), ...(await usedOf(extra.map(queryOf)))];
    const counters = [...planned, ...extra].map(({ scope, meter, window }, i) => ({
      scope: scope.scope,
      id: scope.id,
      meter,
      window,
      used: used[i] ?? 0,
    }));
    await this.store.seed({ tag: subject.tag, now, scopes: subject.scopes, counters, overrides });
  }

  private toAmounts(values: Record<string, number> | undefined): MeterAmount[] {
    const out: MeterAmount[] = [];
    for (const [meter, amount] of Object.entries(values ?? {})) {
      if (!isConfiguredMeter(this.config, meter)) throw new InvalidUsageError(`unknown meter "${meter}"`);
      if (!Number.isSafeInteger(amount) || amount < 0) {
        throw new InvalidUsageError(`amount for "${meter}" must be a non-negative integer, got ${amount}`);
      }
      if (amount > 0) out.push({ meter, amount });
    }
    return out;
  }

  /**
   * Atomic check-and-consume across every applicable limit: admitted only if every limit has room
   * for `amounts` plus `opts.reserve`; a rejection consumes nothing (it counts in `rejected`).
   */
  async consume(
    identity: Identity | ResolvedSubject,
    amounts: Record<string, number>,
    opts: ConsumeOptions = {},
  ): Promise<Admission> {
    const subject = 'tag' in identity ? identity : this.resolve(identity);
    const now = this.now();
    const owner = { tenantId: subject.tenantId, userId: subject.userId, keyId: subject.apiKeyId };
    const consumed = this.toAmounts(amounts);
    const reserveAmounts = this.toAmounts(opts.reserve);
    const records: UsageRecord[] = [
      ...consumed.map((a) => ({ meter: a.meter, amount: a.amount })),
      ...(opts.records ?? []),
    ];
    const usage = expandUsage(this.config, this.prices, owner, records, now);
    const reservationId = reserveAmounts.length > 0 ? (opts.reservationId ?? randomUUID()) : null;
    const op = this.applyOp(subject, now, opts.opId ?? randomUUID(), 'enforce', usage.amounts, usage.deltas);
    // A request is admitted only while every limit of its subject has room: the other limited meters it takes
    // nothing from (a used-up token budget) gate it, and so they gate an admission lease's block of requests. A
    // handler's own reservation (no `requests`) is not gated.
    const takesRequests =
      consumed.some((a) => a.meter === 'requests') || reserveAmounts.some((a) => a.meter === 'requests');
    if (takesRequests) op.amounts = withGates(op.amounts, subject.gates, opts);
    if (opts.countRejected !== false) {
      const rejected = expandUsage(this.config, this.prices, owner, [{ meter: 'rejected', amount: 1 }], now);
      op.onReject = { usage: rejected.deltas, events: [] };
    }
    if (reservationId) {
      op.reserve = {
        id: reservationId,
        expiresAt: now + (opts.reservationTtlMs ?? this.reservationTtlMs),
        amounts: reserveAmounts,
      };
    }
    if (opts.reserves !== undefined && opts.reserves.length > 0) {
      const expiresAt = now + (opts.reservationTtlMs ?? this.reservationTtlMs);
      op.reserves = [];
      for (const r of opts.reserves) {
        const held = this.toAmounts(r.amounts);
        if (held.length > 0) op.reserves.push({ id: r.id, expiresAt, amounts: held });
      }
    }
    const result = await this.seeded(subject, () => this.store.apply(op));
    if (result.status === 'duplicate') {
      if (result.outcome === 'applied') {
        // A retry still learns the reservation to settle, when its id was the caller's (a random one is not known).
        const held = reservationId !== null && opts.reservationId !== undefined ? reservationId : null;
        return { admitted: true, reservationId: held, counters: [], thresholds: [], duplicate: true };
      }
      const gates = takesRequests ? subject.gates.map((meter) => ({ meter, amount: 0 })) : [];
      return this.repeatedRejection(subject, [...consumed, ...reserveAmounts, ...gates]);
    }
    if (result.status === 'rejected') {
      const first = result.firstRejections ?? [];
      if (first.length > 0) {
        await this.keepEvents(
          subject,
          first.map((c) => counterEvent('quota_exceeded', subject, c, now)),
        );
      }
      return {
        admitted: false,
        violation: latestResetting(result.violations),
        counters: result.counters,
        duplicate: false,
      };
    }
    await this.thresholdEvents(subject, result.crossed, now);
    return {
      admitted: true,
      reservationId,
      counters: result.counters,
      thresholds: result.crossed,
      duplicate: false,
    };
  }

  /**
   * The answer to an op id the store had already rejected (a retry with the same idempotency key): rejected again,
   * naming the limit that the amounts pass now (read afresh; the first answer's counters were not kept), or, when
   * they fit by now, the tightest limit they take from.
   */
  private async repeatedRejection(
    subject: ResolvedSubject,
    wanted: ReadonlyArray<{ meter: string; amount: number }>,
  ): Promise<Admission> {
    const { counters } = await this.counters(subject);
    const taken = counters.filter((c) => c.limit >= 0 && wanted.some((w) => w.meter === c.meter));
    const passed = taken.filter((c) => {
      const need = wanted.reduce((sum, w) => (w.meter === c.meter ? sum + w.amount : sum), 0);
      return need > 0 ? c.used + need > c.limit : isSpent(c); // need 0: a gate
    });
    const named = passed.length > 0 ? passed : taken;
    const violation: Violation = named.length > 0 ? latestResetting(named) : emptyViolation(subject);
    return { admitted: false, violation, counters, duplicate: true };
  }

  /** Threshold crossings become `threshold` events on the flush path (the store reports each once). */
  private async thresholdEvents(
    subject: ResolvedSubject,
    crossed: ThresholdCrossing[],
    now: number,
  ): Promise<void> {
    if (crossed.length === 0) return;
    await this.keepEvents(
      subject,
      crossed.map((c) => counterEvent('threshold', subject, c, now, { threshold: c.threshold })),
    );
  }

  /** Appends `events`, awaited, or in the background when `onEventsFailed` is set (see QuotaEngineOptions). */
  private async keepEvents(subject: ResolvedSubject, events: UsageEventRecord[]): Promise<void> {
    const failed = this.onEventsFailed;
    if (failed === null) return this.appendEvents(subject, events);
    const keeping = this.appendEvents(subject, events).catch(failed);
    this.keepingEvents.add(keeping);
    void keeping.finally(() => this.keepingEvents.delete(keeping));
  }

  /** Resolves once the events ops running in the background have ended (before the store is closed). */
  async eventsKept(): Promise<void> {
    await Promise.all([...this.keepingEvents]);
  }

  /** Keeps events for the flusher (`usage_events`); rare, so one extra store call is fine. */
  private async appendEvents(subject: ResolvedSubject, events: UsageEventRecord[]): Promise<void> {
    const now = this.now();
    const op: ApplyOp = {
      ...this.baseOp(subject, now),
      opId: randomUUID(),
      mode: 'record',
      amounts: [],
      usage: [],
      events,
    };
    await this.seeded(subject, () => this.store.apply(op));
  }

  /**
   * Replaces a reservation with the actual usage (never rejected). Settling an expired reservation just records.
   * Several reservation ids settle many requests of one subject in one store op (`records` is their summed usage).
   */
  async settle(
    identity: Identity | ResolvedSubject,
    reservationId: string | readonly string[] | null,
    records: UsageRecord[],
    opts: { opId?: string; at?: number; split?: SplitRequests } = {},
  ): Promise<RecordResult> {
    return this.recordOp(identity, records, opts.opId, reservationId, undefined, opts.at, opts.split);
  }

  /** Drops a reservation without recording anything (upstream 5xx, client abort). */
  async release(
    identity: Identity | ResolvedSubject,
    reservationId: string,
    opts: { opId?: string; at?: number } = {},
  ): Promise<void> {
    await this.recordOp(identity, [], opts.opId, reservationId, undefined, opts.at);
  }

  /** Post-hoc usage: counted on every counter and kept for the ledger, never rejected. Gauges may go down. */
  async record(
    identity: Identity | ResolvedSubject,
    records: UsageRecord[],
    opts: { opId?: string; events?: UsageEventRecord[]; at?: number } = {},
  ): Promise<RecordResult> {
    return this.recordOp(identity, records, opts.opId, null, opts.events, opts.at);
  }

  private async recordOp(
    identity: Identity | ResolvedSubject,
    records: UsageRecord[],
    opId: string | undefined,
    settleId: string | readonly string[] | null,
    events?: UsageEventRecord[],
    // When the usage happened (replays of buffered usage keep their original window and hour bucket).
    at?: number,
    split?: SplitRequests,
  ): Promise<RecordResult> {
    const subject = 'tag' in identity ? identity : this.resolve(identity);
    const now = at ?? this.now();
    const usage = expandUsage(
      this.config,
      this.prices,
      { tenantId: subject.tenantId, userId: subject.userId, keyId: subject.apiKeyId },
      records,
      now,
    );
    const op = this.applyOp(subject, now, opId ?? randomUUID(), 'record', usage.amounts, usage.deltas);
    if (split !== undefined) this.splitRequests(op, subject, split, now);
    if (typeof settleId === 'string') {
      if (settleId !== '') op.settle = { id: settleId };
    } else if (settleId !== null && settleId.length > 0) {
      // One id keeps the single-settle shape every store has always understood.
      if (settleId.length === 1) op.settle = { id: settleId[0]! };
      else op.settleIds = [...settleId];
    }
    if (events && events.length > 0) op.events = events;
    let result = await this.seeded(subject, () => this.store.apply(op));
    if (result.status === 'duplicate' && result.outcome === 'rejected') {
      // The id is an admission's that the store turned down while its caller, hearing nothing in time, admitted
      // the request anyway (fail-open) and now replays its usage under that id: this usage is new. Its own derived
      // id keeps the replay itself idempotent.
      op.opId = afterRejectionIdOf(op.opId);
      result = await this.seeded(subject, () => this.store.apply(op));
    }
    const applied = result.status === 'applied' ? result : null;
    if (applied !== null) await this.thresholdEvents(subject, applied.crossed, now);
    return {
      counters: applied?.counters ?? [],
      thresholds: applied?.crossed ?? [],
      unpriced: usage.unpriced,
      costPico: usage.costPico,
      duplicate: result.status === 'duplicate',
    };
  }

  /** Adds `requests` counted on the counters alone and `requests` kept for the ledger alone (see SplitRequests). */
  private splitRequests(op: ApplyOp, subject: ResolvedSubject, split: SplitRequests, now: number): void {
    const counters = split.countersOnly ?? 0;
    if (counters !== 0) {
      const cur = op.amounts.find((a) => a.meter === 'requests');
      if (cur !== undefined) cur.amount += counters;
      else op.amounts = [...op.amounts, { meter: 'requests', amount: counters }];
    }
    const ledger = split.ledgerOnly ?? 0;
    if (ledger > 0) {
      const owner = { tenantId: subject.tenantId, userId: subject.userId };
      const records = [{ meter: 'requests', amount: ledger }];
      op.usage = [...op.usage, ...expandUsage(this.config, this.prices, owner, records, now).deltas];
    }
  }

  /** Raw counters and effective limits of every meter for this subject. */
  async counters(
    identity: Identity | ResolvedSubject,
  ): Promise<{ subject: ResolvedSubject; counters: CounterState[] }> {
    const subject = 'tag' in identity ? identity : this.resolve(identity);
    const now = this.now();
    const base = this.baseOp(subject, now);
    const result = await this.seeded(subject, () =>
      this.store.read({
        tag: base.tag,
        now,
        scopes: base.scopes,
        windows: base.windows,
        limits: base.limits,
        meters: Object.keys(this.config.meters),
        seed: base.seed,
      }),
    );
    return { subject, counters: result.counters };
  }

  /** Real-time quota status in the `/usage/quota` shape. */
  async status(identity: Identity | ResolvedSubject): Promise<QuotaStatus> {
    const { subject, counters } = await this.counters(identity);
    const quotas: QuotaStatus['quotas'] = {};
    const userQuotas: QuotaStatus['userQuotas'] = {};
    const keyQuotas: NonNullable<QuotaStatus['keyQuotas']> = {};
    let anyExceeded = false;
    for (const c of counters) {
      const target =
        c.scope === 'key'
          ? keyQuotas
          : c.scope === subject.owner.scope && c.id === subject.owner.id
            ? quotas
            : userQuotas;
      (target[c.meter] ??= {})[c.period] = quotaLine(c);
      if (c.limit >= 0 && c.used >= c.limit) anyExceeded = true;
    }
    return {
      plan: subject.plan,
      subject: { tenantId: subject.tenantId, userId: subject.userId },
      quotas,
      userQuotas,
      ...(subject.keyCap ? { keyQuotas } : {}),
      anyExceeded,
    };
  }

  /** Whether `amount` more of `meter` would fit, without consuming. `remaining` is the smallest over every applicable limit. */
  check(
    identity: Identity | ResolvedSubject,
    meter: 'cost',
    amount: string,
  ): Promise<{ allowed: boolean; remaining: string | null }>;
  check(
    identity: Identity | ResolvedSubject,
    meter: string,
    amount: number,
  ): Promise<{ allowed: boolean; remaining: number | null }>;
  check(identity: Identity | ResolvedSubject, meter: string, amount: number | string): Promise<QuotaCheck>;
  /**
   * Whether `amount` more of `meter` fits, without consuming; `remaining` is the least left over every limit (null
   * when none limits it). `cost` is a USD decimal string both ways (`"0.01"`), as in every other API; any other
   * meter takes an integer >= 0.
   */
  async check(
    identity: Identity | ResolvedSubject,
    meter: string,
    amount: number | string,
  ): Promise<QuotaCheck> {
    if (!isConfiguredMeter(this.config, meter)) throw new InvalidUsageError(`unknown meter "${meter}"`);
    if (meter === 'cost') return this.checkCost(identity, amount);
    const wanted = checkedAmount(meter, amount);
    const { subject, counters } = await this.counters(identity);
    let remaining: number | null = null;
    for (const c of counters) {
      if (c.meter !== meter || c.limit < 0) continue;
      const left = Math.max(0, c.limit - c.used);
      remaining = remaining === null ? left : Math.min(remaining, left);
    }
    // Requests are also refused while a budget they take nothing from is spent (see consume).
    const gated =
      meter === 'requests' &&
      wanted > 0 &&
      counters.some((c) => subject.gates.includes(c.meter) && isSpent(c));
    return { allowed: !gated && (remaining === null || wanted <= remaining), remaining };
  }

  /** `check` for `cost`: USD decimal strings, compared in exact pico-dollars (a float would round above $9007). */
  private async checkCost(
    identity: Identity | ResolvedSubject,
    amount: number | string,
  ): Promise<{ allowed: boolean; remaining: string | null }> {
    if (typeof amount !== 'string' || !isUsdAmount(amount)) {
      throw new InvalidUsageError(
        `amount for "cost" must be a USD decimal string with at most 12 decimals (e.g. "0.01"), got ${JSON.stringify(amount)}`,
      );
    }
    const wanted = usdToPico(amount);
    const { counters } = await this.counters(identity);
    let remaining: bigint | null = null;
    for (const c of counters) {
      if (c.meter !== 'cost' || c.limit < 0) continue;
      const left = BigInt(Math.round(c.limit)) - BigInt(Math.round(c.used));
      const room = left > 0n ? left : 0n;
      remaining = remaining === null || room < remaining ? room : remaining;
    }
    return {
      allowed: remaining === null || wanted <= remaining,
      remaining: remaining === null ? null : picoToUsd(remaining),
    };
  }

  /** Sets (or with `limit: null` removes) a custom limit for one tenant, user or API key, effective at once everywhere. */
  async setOverride(
    target: OverrideTargetInput,
    meter: string,
    period: Period,
    limit: number | null,
  ): Promise<void> {
    if (!isConfiguredMeter(this.config, meter)) throw new InvalidUsageError(`unknown meter "${meter}"`);
    if (limit !== null && !isLimitValue(meter, limit)) {
      throw new InvalidUsageError('limit must be an integer >= -1 (-1 = unlimited) that the stores can hold');
    }
    const { tag, ref } = overrideTarget(target, this.config.subject);
    await this.store.setOverride(tag, { ...ref, meter, period, limit });
    const identity: Identity =
      ref.scope === 'tenant'
        ? { tenantId: ref.id }
        : ref.scope === 'key'
          ? { tenantId: target.tenantId ?? null, userId: target.userId ?? null, apiKeyId: ref.id }
          : { tenantId: target.tenantId ?? null, userId: ref.id };
    const event: UsageEventRecord = {
      type: 'override_set',
      tenantId: identity.tenantId ?? null,
      userId: identity.userId ?? null,
      meter,
      period,
      details: { scope: ref.scope, id: ref.id, limit },
      occurredAt: this.now(),
    };
    await this.record(identity, [], { events: [event] });
  }
}

function counterEvent(
  type: 'threshold' | 'quota_exceeded',
  subject: ResolvedSubject,
  c: CounterState,
  now: number,
  extra: Record<string, unknown> = {},
): UsageEventRecord {
  return {
    type,
    tenantId: subject.tenantId,
    userId: c.scope === 'user' ? c.id : subject.userId,
    meter: c.meter,
    period: c.period,
    details: {
      scope: c.scope,
      id: c.id,
      // The usage API and webhooks carry these as they are: money as exact USD decimal strings, like every API.
      limit: apiAmount(c.meter, c.limit),
      used: apiAmount(c.meter, c.used),
      periodKey: c.periodKey,
      resetsAt: c.resetsAt === null ? null : new Date(c.resetsAt).toISOString(),
      ...extra,
    },
    occurredAt: now,
  };
}

/** A gate's budget is used up (a limit of 0 forbids its meter, it gates nothing; see ApplyOp.amounts). */
export function isSpent(c: CounterState): boolean {
  return c.limit > 0 && c.used >= c.limit;
}

/** `amounts` plus an amount-0 gate for each of `gates` that the op takes nothing from (see ApplyOp.amounts). */
function withGates(amounts: MeterAmount[], gates: readonly string[], opts: ConsumeOptions): MeterAmount[] {
  if (gates.length === 0) return amounts;
  const taken = (meter: string) =>
    amounts.some((a) => a.meter === meter) ||
    (opts.reserve?.[meter] ?? 0) > 0 ||
    (opts.reserves ?? []).some((r) => (r.amounts[meter] ?? 0) > 0);
  const out = [...amounts];
  for (const meter of gates) if (!taken(meter)) out.push({ meter, amount: 0 });
  return out;
}

function emptyViolation(subject: ResolvedSubject): Violation {
  return {
    scope: subject.owner.scope,
    id: subject.owner.id,
    meter: 'requests',
    period: 'total',
    periodKey: '0',
    limit: 0,
    used: 0,
    resetsAt: null,
  };
}
