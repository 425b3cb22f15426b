// The CounterStore contract: the few atomic operations the quota engine needs from a backend.
//
// Every operation is scoped to one shard `tag` (the tenant, or the user when there is none): all
// state an operation touches lives under that tag, so a Redis Cluster runs each one in one slot.
import type { Period, PeriodWindow } from './periods';

/** Whose counter: a tenant's, a user's (cap inside a tenant, or the owner), or an API key's (SPEC §11). */
export type Scope = 'tenant' | 'user' | 'key';

/** One quota owner inside a shard: the tenant, or a user (alone, or capped inside a tenant). */
export interface ScopeRef {
  scope: Scope;
  id: string;
}

/** A plan limit before overrides. `limit` -1 = unlimited (counted, never blocks). */
export interface LimitSpec extends ScopeRef {
  meter: string;
  period: Period;
  limit: number;
}

/** One counter after an operation: what headers, 429 bodies and `/usage/quota` are built from. */
export interface CounterState extends ScopeRef {
  meter: string;
  period: Period;
  periodKey: string;
  /** Effective limit (override if set, else plan). -1 = unlimited. */
  limit: number;
  used: number;
  resetsAt: number | null;
  /**
   * The part of `used` that reservations of requests in flight hold (not used yet). Reported on the violations of a
   * rejected op; absent (or 0) when none. Optional for stores written before it.
   */
  held?: number;
}

/** A threshold (percent of a limit) crossed for the first time in its period. */
export interface ThresholdCrossing extends ScopeRef {
  meter: string;
  period: Period;
  periodKey: string;
  threshold: number;
  limit: number;
  /** The amount used when it was crossed: the counter less what reservations still hold on it. */
  used: number;
  resetsAt: number | null;
}

/** A ledger delta kept unflushed in the store until the flusher claims it. */
export interface UsageDelta {
  tenantId: string | null;
  userId: string | null;
  /** The API key the usage came with (ledger `key_id`); absent or null without one. */
  keyId?: string | null;
  meter: string;
  model: string | null;
  /** Start of the UTC hour the usage happened in, epoch ms. */
  bucketStart: number;
  amount: number;
  /** Exact cost of this delta in pico-dollars, as a decimal integer string. */
  costPico: string;
  /** True when the amount was estimated rather than reported by the provider. */
  estimated?: boolean;
}

/** A notable event, written to `usage_events` by the flusher (never on the request path). */
export interface UsageEventRecord {
  type: 'quota_exceeded' | 'threshold' | 'override_set' | 'store_degraded';
  tenantId: string | null;
  userId: string | null;
  meter: string | null;
  period: Period | null;
  details: Record<string, unknown>;
  occurredAt: number;
}

export interface MeterAmount {
  meter: string;
  amount: number;
}

export interface ApplyOp {
  /** Unique id: a store applies an id at most once (retries and fail-open replays change nothing). */
  opId: string;
  tag: string;
  now: number;
  /** `enforce`: all-or-nothing against every effective limit. `record`: always applies (settlement, post-hoc usage). */
  mode: 'enforce' | 'record';
  /** Owners whose counters this op touches (the quota owner, and the user when capped inside a tenant). */
  scopes: ScopeRef[];
  /** The current window of every period (all five), so overrides on any period apply. */
  windows: PeriodWindow[];
  /** Plan limits for the meters this op touches, per scope. */
  limits: LimitSpec[];
  /**
   * Added to every counter of every scope for these meters. In `enforce` mode a meter listed with amount 0 is a
   * gate: nothing is added, and the op is rejected when one of its counters has a limit > 0 and is already at or
   * over it (a limit of 0 forbids the meter itself, not what does not take from it).
   */
  amounts: MeterAmount[];
  /** Held like `amounts`, remembered under `id` until settled or `expiresAt`. */
  reserve?: { id: string; expiresAt: number; amounts: MeterAmount[] };
  /**
   * More reservations held by the same op, each like `reserve` under its own id (ids distinct, and distinct from
   * `reserve`'s): all of them with the op or none (an `enforce` op checks their sum). Defaults to none.
   */
  reserves?: Array<{ id: string; expiresAt: number; amounts: MeterAmount[] }>;
  /** Undo this reservation first (if it is still held), then apply `amounts` as actual usage. */
  settle?: { id: string };
  /**
   * Undo each of these reservations too (like `settle`: each one still held is undone exactly once, one already
   * settled or expired is skipped), so many requests' settlements of one subject share one op. Defaults to none.
   */
  settleIds?: string[];
  /** Ledger deltas, kept iff the op applies. */
  usage: UsageDelta[];
  /** Ledger deltas and events kept iff an `enforce` op is rejected (the `rejected` meter). */
  onReject?: { usage: UsageDelta[]; events: UsageEventRecord[] };
  /** Events kept iff the op applies. */
  events?: UsageEventRecord[];
  /** Percent thresholds to report the first crossing of. */
  warnAt: number[];
  /** `auto`: no baseline source, an unseeded shard is marked seeded at once; `required`: answer `needs-seed`. */
  seed: 'auto' | 'required';
}

export type ApplyResult =
  | { status: 'applied'; counters: CounterState[]; crossed: ThresholdCrossing[] }
  | {
      status: 'rejected';
      violations: CounterState[];
      counters: CounterState[];
      /** Violations that are the first rejection by that counter in its window (for `quota_exceeded` events). */
      firstRejections?: CounterState[];
    }
  /** The op id was applied (or rejected) before; nothing changed now. */
  | { status: 'duplicate'; outcome: 'applied' | 'rejected' }
  /** The shard's state was lost (or never existed) and must be seeded from the ledger first. */
  | { status: 'needs-seed' };

/** One op's answer in `applyMany`: its result, or the error `apply` would have thrown for it alone. */
export type ApplyManyResult = ApplyResult | Error;

export interface ReadOp {
  tag: string;
  now: number;
  scopes: ScopeRef[];
  windows: PeriodWindow[];
  limits: LimitSpec[];
  /** Meters to report; counters exist for every (scope, meter, period) with an effective limit. */
  meters: string[];
  seed: 'auto' | 'required';
}

export type ReadResult = { status: 'ok'; counters: CounterState[] } | { status: 'needs-seed' };

export interface OverrideEntry extends ScopeRef {
  meter: string;
  period: Period;
  /** New limit, -1 = unlimited; null removes the override. */
  limit: number | null;
}

export interface SeedOp {
  tag: string;
  now: number;
  /**
   * The scopes being seeded: each is marked seeded once, on its own, so a tenant seeded by one user's
   * request still rebuilds another user's cap on that user's first request. Counters of scopes that are
   * already seeded are left alone.
   */
  scopes: ScopeRef[];
  /** Counter values for the current windows, from the ledger. */
  counters: Array<ScopeRef & { meter: string; window: PeriodWindow; used: number }>;
  /** Durable overrides to restore. */
  overrides: OverrideEntry[];
}

/** Unflushed usage claimed by a flusher under `batchId`; kept in the store until acknowledged. */
export interface ClaimedBatch {
  batchId: string;
  tag: string;
  claimedAt: number;
  usage: UsageDelta[];
  events: UsageEventRecord[];
}

export interface ClaimOptions {
  now: number;
  /** At most this many shards per call. */
  maxTags: number;
  /** Batches claimed longer ago than this (by a flusher that died) are handed out again, same batch id. */
  staleAfterMs: number;
}

/**
 * The backend contract. Every method is atomic as a whole with respect to the others on the same
 * tag. `MemoryStore` and `RedisStore` both pass the exported contract suite (`@tollgate/core/testing`).
 */
export interface CounterStore {
  /**
   * In one atomic step: (1) answer `needs-seed` if the shard is unseeded (see `seed`); (2) release
   * expired reservations; (3) answer `duplicate` if `opId` was seen within the dedup window;
   * (4) undo `settle`'s reservation and each of `settleIds`'; (5) resolve every effective limit (override, else plan) for
   * each scope × meter × period; (6) in `enforce` mode, if any counter would pass its limit
   * (used + amount > limit, limit >= 0, amount > 0), or a gate (amount 0) is used up (used >= limit,
   * limit > 0), change nothing but the `onReject` deltas and
   * answer `rejected` with the violated counters; (7) otherwise add the amounts (and reservation),
   * keep the usage deltas and events, and report thresholds crossed for the first time. A threshold is crossed
   * by used amounts only: the counter less what reservations still hold on it (holding a reservation crosses
   * nothing; settling one crosses what its actual amounts reach).
   */
  apply(op: ApplyOp): Promise<ApplyResult>;
  /**
   * Optional: many ops in one call (one round trip), each applied exactly as `apply` would, in order, each
   * atomic on its own (one op's rejection or `needs-seed` leaves the others alone); the results in the same order.
   * An op the store refuses on its own (what `apply` would throw for it, e.g. a malformed amount) is that Error in
   * its place, and the others still apply. A failure of the call as a whole rejects it; then any op may or may not
   * have applied (their op ids make a retry safe). The engine sends the ops of one event-loop turn with it.
   */
  applyMany?(ops: readonly ApplyOp[]): Promise<ApplyManyResult[]>;
  /** Current counters and effective limits (releases expired reservations first). */
  read(op: ReadOp): Promise<ReadResult>;
  /**
   * Sets the counters of the scopes not yet seeded, restores overrides that are missing, and marks those
   * scopes seeded, atomically. A no-op (false) when every scope was already seeded. `apply`/`read` answer
   * `needs-seed` while any of their scopes is unseeded (and `seed: 'required'`).
   */
  seed(op: SeedOp): Promise<boolean>;
  /** Sets or removes an override; read by every later `apply`/`read` on the shard. */
  setOverride(tag: string, entry: OverrideEntry): Promise<void>;
  /** Claims unflushed usage (and re-issues stale claims). Usage applied after a claim goes to a later batch. */
  claim(opts: ClaimOptions): Promise<ClaimedBatch[]>;
  /** Forgets acknowledged batches (after their ledger commit). Acknowledging twice is harmless. */
  ack(batches: ReadonlyArray<Pick<ClaimedBatch, 'batchId' | 'tag'>>): Promise<void>;
  /** Resolves when the store answers. */
  ping(): Promise<void>;
  /** Releases timers and connections the store owns (not the caller's client). */
  close(): Promise<void>;
}

const STORE_METHODS = ['apply', 'read', 'seed', 'setOverride', 'claim', 'ack', 'ping', 'close'] as const;

/** Rejects, at construction time, an object that is not a CounterStore. */
export function assertCounterStore(store: unknown): asserts store is CounterStore {
  const missing = STORE_METHODS.filter(
    (m) => typeof (store as Record<string, unknown> | null | undefined)?.[m] !== 'function',
  );
  if (missing.length > 0) {
    throw new TypeError(`store is not a Tollgate CounterStore: missing ${missing.join(', ')}()`);
  }
}
