// Where post-response usage is counted: summed per subject for `usageBatchMs` (reservation settlements too), then
// written in one store op. A sum that only holds request statistics no limit reads waits longer (see UsageBatcher).
import type { TollgateConfig } from '../config';
import type { ResolvedSubject } from '../subject';
import type { UsageRecord } from '../usage';
import type { Tollgate } from './tollgate';

/** What a subject's requests added up to since the last write. */
export class SubjectUsage {
  requests = 0;
  rejected = 0;
  errors = 0;
  latencyMs = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Handler-recorded usage, summed by meter, model, provider and estimate flag. */
  private recorded: Map<string, UsageRecord> | null = null;
  /** Reservations of finished requests (and closed leases), undone by the same op that records their actual usage. */
  settleIds: string[] | null = null;
  /** When this sum is written: `usageBatchMs` after it began, or the statistics' longer delay (see UsageBatcher). */
  dueAt: number;

  constructor(
    readonly subject: ResolvedSubject,
    private readonly batcher: UsageBatcher,
    private readonly beganAt: number,
  ) {
    this.dueAt = beganAt + batcher.statsDelayMs;
  }

  /** Something a limit may read joined the sum: it is written within `usageBatchMs` of when the sum began. */
  urgent(): void {
    const due = this.beganAt + this.batcher.windowMs;
    if (due < this.dueAt) {
      this.dueAt = due;
      this.batcher.dueBy(due);
    }
  }

  record(r: UsageRecord): void {
    if (r.amount === 0) return;
    this.urgent();
    const key = `${r.meter}\u0000${r.model ?? ''}\u0000${r.provider ?? ''}\u0000${r.estimated === true ? 1 : 0}`;
    const map = (this.recorded ??= new Map());
    const cur = map.get(key);
    if (cur) cur.amount += r.amount;
    else
      map.set(key, {
        meter: r.meter,
        amount: r.amount,
        model: r.model,
        provider: r.provider,
        estimated: r.estimated,
      });
  }

  /** A finished request's reservation: undone, and replaced by `records`, in this sum's op. */
  settle(reservationId: string, records: readonly UsageRecord[]): void {
    this.urgent();
    (this.settleIds ??= []).push(reservationId);
    for (const r of records) this.record(r);
  }

  /**
   * A closed lease: its unused units released and its used ones counted as `requests`, in this sum's op. Not
   * urgent: every unit was already counted against the limits when the lease was granted.
   */
  closeLease(leaseId: string, used: number): void {
    (this.settleIds ??= []).push(leaseId);
    this.requests += used;
  }

  toRecords(): UsageRecord[] {
    const out: UsageRecord[] = [];
    if (this.requests !== 0) out.push({ meter: 'requests', amount: this.requests });
    if (this.rejected !== 0) out.push({ meter: 'rejected', amount: this.rejected });
    if (this.errors !== 0) out.push({ meter: 'errors', amount: this.errors });
    if (this.latencyMs !== 0) out.push({ meter: 'latency_ms', amount: this.latencyMs });
    if (this.bytesIn !== 0) out.push({ meter: 'bytes_in', amount: this.bytesIn });
    if (this.bytesOut !== 0) out.push({ meter: 'bytes_out', amount: this.bytesOut });
    if (this.recorded !== null) for (const r of this.recorded.values()) if (r.amount !== 0) out.push(r);
    return out;
  }
}

/** Request statistics wait this many times `usageBatchMs` (at most STATS_MAX_DELAY_MS, never less than it). */
const STATS_DELAY_FACTOR = 10;
const STATS_MAX_DELAY_MS = 1000;
/** The statistics every metered request adds to its subject's sum. */
const STATS_METERS = ['rejected', 'errors', 'bytes_in', 'bytes_out', 'latency_ms'] as const;

/** True when some plan or user cap limits a request statistic (then it is written as promptly as recorded usage). */
function statsAreLimited(config: TollgateConfig): boolean {
  const tables = [...Object.values(config.plans).map((p) => p.limits), ...Object.values(config.userLimits)];
  return tables.some((t) => STATS_METERS.some((m) => t[m] !== undefined && Object.keys(t[m]).length > 0));
}

/**
 * How long a sum of request statistics alone (`rejected`, `errors`, `bytes_in`, `bytes_out`, `latency_ms`, and
 * the `requests` of closed leases) waits: no limit reads them, so a busy subject writes them every 100 ms rather
 * than every 10 (one store op instead of ten; store ops are most of the meter's cost at high request rates).
 * `usageBatchMs` itself when a plan limits one of them.
 */
export function statsDelayMs(usageBatchMs: number, config: TollgateConfig): number {
  if (usageBatchMs === 0 || statsAreLimited(config)) return usageBatchMs;
  return Math.max(usageBatchMs, Math.min(usageBatchMs * STATS_DELAY_FACTOR, STATS_MAX_DELAY_MS));
}

/**
 * Sums usage per subject and writes each subject's sum in one op per window (one op per subject, not per
 * request); finished requests' reservations are undone by that same op, each exactly once. A sum is written
 * `usageBatchMs` after it began when it holds recorded usage or a reservation's settlement (a limit may read
 * them), else after `statsDelayMs`. A failed write goes to the fail-open buffer like any settlement, with its
 * own op id.
 */
export class UsageBatcher {
  private pending = new Map<ResolvedSubject, SubjectUsage>();
  private timer: NodeJS.Timeout | null = null;
  /** When the timer fires (0: none set). */
  private timerAt = 0;
  private immediate: NodeJS.Immediate | null = null;
  readonly statsDelayMs: number;

  constructor(
    private readonly tollgate: Tollgate,
    readonly windowMs: number,
  ) {
    this.statsDelayMs = statsDelayMs(windowMs, tollgate.config);
  }

  /** The running sum of `subject`; written within `statsDelayMs`, or `usageBatchMs` once urgent. */
  of(subject: ResolvedSubject): SubjectUsage {
    let u = this.pending.get(subject);
    if (u === undefined) {
      u = new SubjectUsage(subject, this, Date.now());
      this.pending.set(subject, u);
      this.dueBy(u.dueAt);
    }
    return u;
  }

  /** Makes sure the pending sums are looked at by `at`. */
  dueBy(at: number): void {
    if (this.windowMs === 0) {
      this.immediate ??= setImmediate(this.flush);
      return;
    }
    if (this.timer !== null) {
      if (this.timerAt <= at) return;
      clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = setTimeout(this.writeDue, Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  /** Writes the sums that are due, and sets the timer for the next one. */
  private readonly writeDue = (): void => {
    this.timer = null;
    this.timerAt = 0;
    // A timer may fire a little early: a sum due within the next millisecond goes now.
    const now = Date.now() + 1;
    let due: SubjectUsage[] | null = null;
    let next = Infinity;
    for (const u of this.pending.values()) {
      if (u.dueAt <= now) (due ??= []).push(u);
      else if (u.dueAt < next) next = u.dueAt;
    }
    if (due !== null) {
      for (const u of due) this.pending.delete(u.subject);
      this.write(due);
    }
    if (next !== Infinity) this.dueBy(next);
  };

  /** Writes every pending sum now; resolves once each write was answered or buffered for replay (never rejects). */
  readonly flush = (): Promise<void> => {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = 0;
    this.immediate = null;
    if (this.pending.size === 0) return Promise.resolve();
    const batch = this.pending;
    this.pending = new Map();
    return Promise.all(this.write(batch.values())).then(() => undefined);
  };

  /** Starts one write per sum; the returned promises never reject (failures are logged or buffered). */
  private write(sums: Iterable<SubjectUsage>): Array<Promise<void>> {
    const at = Date.now();
    const writes: Array<Promise<void>> = [];
    for (const u of sums) {
      const records = u.toRecords();
      const ids = u.settleIds;
      if (records.length === 0 && ids === null) continue;
      const write = this.tollgate.settleQuietly({
        subject: u.subject,
        opId: this.tollgate.ids.next(),
        reservationId: null,
        reservationIds: ids ?? undefined,
        records,
        at,
      });
      writes.push(write);
    }
    return writes;
  }

  /** Writes every pending sum now; resolves like `flush` (a later call writes what was summed since). */
  close(): Promise<void> {
    if (this.immediate !== null) clearImmediate(this.immediate);
    return this.flush();
  }
}
