// What every engine operation shares: config, store, prices, the clock, the current windows and the op shapes.
import type { TollgateConfig } from '../config';
import { currentWindows, type PeriodWindow } from '../periods';
import type { PriceBook } from '../pricing';
import type { ApplyOp, CounterStore, MeterAmount, ReadOp } from '../store';
import { resolveSubject, type Identity, type ResolvedSubject } from '../subject';

export interface EngineContextOptions {
  config: TollgateConfig;
  store: CounterStore;
  prices: PriceBook;
  now: () => number;
  /** `required` when a baseline source rebuilds lost shards (the store answers `needs-seed`), else `auto`. */
  seed: ApplyOp['seed'];
  reservationTtlMs: number;
}

export class EngineContext {
  readonly config: TollgateConfig;
  readonly store: CounterStore;
  readonly prices: PriceBook;
  readonly now: () => number;
  readonly seed: ApplyOp['seed'];
  readonly reservationTtlMs: number;
  private windows: { until: number; list: PeriodWindow[] } = { until: -Infinity, list: [] };

  constructor(options: EngineContextOptions) {
    this.config = options.config;
    this.store = options.store;
    this.prices = options.prices;
    this.now = options.now;
    this.seed = options.seed;
    this.reservationTtlMs = options.reservationTtlMs;
  }

  /** The subject of a call: resolved from its identity, or as the caller already resolved it. */
  subjectOf(identity: Identity | ResolvedSubject): ResolvedSubject {
    return 'tag' in identity ? identity : resolveSubject(this.config, identity);
  }

  /** Current windows of all periods; every boundary is a minute boundary, so they are cached until the next one. */
  windowsAt(now: number): PeriodWindow[] {
    if (now >= this.windows.until || now < this.windows.until - 60_000) {
      const list = currentWindows(now, this.config.timezone);
      this.windows = { until: list[0]!.resetsAt!, list };
    }
    return this.windows.list;
  }

  /**
   * A whole ApplyOp built as one literal: `{ ...base, ... }` cost microseconds per call on the admission path (V8
   * clones the object, then transitions it field by field), more than the rest of consume together.
   */
  applyOp(
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
      seed: this.seed,
    };
  }

  /** A read of every meter's counters of `subject`. */
  readOp(subject: ResolvedSubject, now: number): ReadOp {
    return {
      tag: subject.tag,
      now,
      scopes: subject.scopes,
      windows: this.windowsAt(now),
      limits: subject.limits,
      meters: Object.keys(this.config.meters),
      seed: this.seed,
    };
  }
}
