// QuotaEngine: the store-independent API adapters and apps call (consume, reserve/settle, record, status, check,
// overrides), composed of one module per concern: admission-ops, record-ops, queries, overrides, threshold-events
// and seeding.
import type { TollgateConfig } from '../config';
import type { Period, PeriodWindow } from '../periods';
import { PriceBook } from '../pricing';
import { coalesceApplies } from '../store-coalescer';
import { assertCounterStore, type CounterState, type CounterStore, type UsageEventRecord } from '../store';
import { resolveSubject, type Identity, type OverrideTargetInput, type ResolvedSubject } from '../subject';
import type { UsageRecord } from '../usage';
import { consume, type Admission, type ConsumeOptions } from './admission-ops';
import { EngineContext } from './context';
import { setOverride } from './overrides';
import type { EngineParts } from './parts';
import { checkRoom, quotaStatus, readCounters, type QuotaCheck, type QuotaStatus } from './queries';
import { recordOp, type RecordResult, type SplitRequests } from './record-ops';
import { ShardSeeder, type BaselineQuery, type BaselineSource } from './seeding';
import { EventKeeper } from './threshold-events';

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

export class QuotaEngine {
  readonly config: TollgateConfig;
  readonly store: CounterStore;
  readonly prices: PriceBook;
  private readonly parts: EngineParts;

  constructor(options: QuotaEngineOptions) {
    assertCounterStore(options.store);
    this.store = options.store;
    this.config = options.config;
    this.prices = new PriceBook(options.config.pricing);
    const b = options.baseline;
    const baseline: BaselineSource | null =
      b === undefined ? null : typeof b === 'function' ? { used: b } : b;
    const ctx = new EngineContext({
      config: this.config,
      // Many subjects' ops of one event-loop turn in one store call, when the store can take them.
      store: coalesceApplies(this.store),
      prices: this.prices,
      now: options.now ?? Date.now,
      seed: baseline ? 'required' : 'auto',
      reservationTtlMs: options.reservationTtlMs ?? 5 * 60_000,
    });
    const seeder = new ShardSeeder(ctx, baseline);
    const events = new EventKeeper(ctx, seeder, options.onEventsFailed ?? null);
    this.parts = { ctx, seeder, events };
  }

  resolve(identity: Identity): ResolvedSubject {
    return resolveSubject(this.config, identity);
  }

  /** Current windows of all periods; every boundary is a minute boundary, so they are cached until the next one. */
  windowsAt(now: number): PeriodWindow[] {
    return this.parts.ctx.windowsAt(now);
  }

  /** Rebuilds a shard's counters from the baseline source; concurrent callers share one rebuild. */
  seedShard(subject: ResolvedSubject): Promise<void> {
    return this.parts.seeder.seedShard(subject);
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
    return consume(this.parts, identity, amounts, opts);
  }

  /** Resolves once the events ops running in the background have ended (before the store is closed). */
  async eventsKept(): Promise<void> {
    await this.parts.events.kept();
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
    return recordOp(this.parts, identity, records, {
      opId: opts.opId,
      settle: reservationId,
      at: opts.at,
      split: opts.split,
    });
  }

  /** Drops a reservation without recording anything (upstream 5xx, client abort). */
  async release(
    identity: Identity | ResolvedSubject,
    reservationId: string,
    opts: { opId?: string; at?: number } = {},
  ): Promise<void> {
    await recordOp(this.parts, identity, [], { opId: opts.opId, settle: reservationId, at: opts.at });
  }

  /** Post-hoc usage: counted on every counter and kept for the ledger, never rejected. Gauges may go down. */
  async record(
    identity: Identity | ResolvedSubject,
    records: UsageRecord[],
    opts: { opId?: string; events?: UsageEventRecord[]; at?: number } = {},
  ): Promise<RecordResult> {
    return recordOp(this.parts, identity, records, { opId: opts.opId, events: opts.events, at: opts.at });
  }

  /** Raw counters and effective limits of every meter for this subject. */
  async counters(
    identity: Identity | ResolvedSubject,
  ): Promise<{ subject: ResolvedSubject; counters: CounterState[] }> {
    return readCounters(this.parts, identity);
  }

  /** Real-time quota status in the `/usage/quota` shape. */
  async status(identity: Identity | ResolvedSubject): Promise<QuotaStatus> {
    return quotaStatus(this.parts, identity);
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
    return checkRoom(this.parts, identity, meter, amount);
  }

  /** Sets (or with `limit: null` removes) a custom limit for one tenant, user or API key, effective at once everywhere. */
  async setOverride(
    target: OverrideTargetInput,
    meter: string,
    period: Period,
    limit: number | null,
  ): Promise<void> {
    await setOverride(this.parts, target, meter, period, limit);
  }
}
