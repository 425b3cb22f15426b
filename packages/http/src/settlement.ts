// Where post-response usage is counted: summed per subject for `usageBatchMs` (reservation settlements too), then
// written in one store op. A sum that only holds request statistics no limit reads waits longer (see UsageBatcher).
import type { TollgateConfig, ResolvedSubject, UsageRecord } from '@tollgate/core';
import type { PendingOp } from './replay-buffer';
import { storeOp } from './store-ops';
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
  /** `requests` of closed admission leases whose ledger units were written as their responses ended (delivered). */
  leaseCounted = 0;
  /** `requests` of lease-admitted responses that ended, for the ledger alone (their lease counts the counters). */
  leaseLedgered = 0;
  /** When this sum is written: `usageBatchMs` after it began, or the statistics' longer delay (see UsageBatcher). */
  dueAt: number;
  /** Responses whose end waits for this sum's write (delivered durability). */
  waiters: CommitWaiter[] | null = null;
  /** Bounds the waiters' wait by `storeTimeoutMs`. */
  deadline: NodeJS.Timeout | null = null;
  /** Taken for a write (or for the fail-open buffer): nothing more joins it. */
  taken = false;
  /** Its waiters' deadline passed before it was written: it went to the fail-open buffer instead. */
  expired = false;
  /** Its write went out. */
  started = false;

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
    if (this.batcher.delivered) this.leaseCounted += used;
    else this.requests += used;
  }

  /** Resolves every response waiting for this sum. */
  answer(acked: boolean): void {
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.deadline = null;
    const waiters = this.waiters;
    this.waiters = null;
    if (waiters !== null) for (const w of waiters) w.committed(acked);
  }

  /** The lease `requests` of this sum, written apart from the rest (see SplitRequests); undefined when none. */
  split(): { countersOnly?: number; ledgerOnly?: number } | undefined {
    if (this.leaseCounted === 0 && this.leaseLedgered === 0) return undefined;
    return { countersOnly: this.leaseCounted, ledgerOnly: this.leaseLedgered };
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

const ACKED: Promise<boolean> = Promise.resolve(true);

/**
 * A response whose end waits for its subject's sum (delivered durability): told once, true when the store
 * acknowledged it, false when it went to the fail-open buffer. A method, not a promise: no allocation per response.
 */
export interface CommitWaiter {
  committed(acked: boolean): void;
}

/**
 * Sums usage per subject and writes each subject's sum in one op per window (one op per subject, not per
 * request); finished requests' reservations are undone by that same op, each exactly once. A sum is written
 * `usageBatchMs` after it began when it holds recorded usage or a reservation's settlement (a limit may read
 * them), else after `statsDelayMs`. A failed write goes to the fail-open buffer like any settlement, with its
 * own op id.
 *
 * With delivered durability a response's end also asks for its subject's sum to be written now (`commit`): the ends
 * of one event-loop turn go out together (pipelined across subjects), a subject has one write in flight at a time,
 * and the ends that come meanwhile join its next write (group commit), so a busy subject costs about one write per
 * store round trip, not one per request.
 */
export class UsageBatcher {
  private pending = new Map<ResolvedSubject, SubjectUsage>();
  private timer: NodeJS.Timeout | null = null;
  /** When the timer fires (0: none set). */
  private timerAt = 0;
  private immediate: NodeJS.Immediate | null = null;
  readonly statsDelayMs: number;
  /** Delivered durability: ends wait for their sum's write (see `commit`). */
  readonly delivered: boolean;
  /** Delivered: each subject's last write (they run one after another), answering whether it was acknowledged. */
  private readonly writing = new Map<ResolvedSubject, Promise<boolean>>();
  /** Delivered: sums that responses wait for, written after this turn's poll phase. */
  private ready: SubjectUsage[] = [];
  private readyScheduled = false;

  constructor(
    private readonly tollgate: Tollgate,
    readonly windowMs: number,
  ) {
    this.statsDelayMs = statsDelayMs(windowMs, tollgate.config);
    this.delivered = tollgate.options.durability === 'delivered';
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

  /**
   * Tells `waiter` once what `subject`'s sum holds now is acknowledged by the store (true), or, past
   * `storeTimeoutMs`, buffered for replay (false). Written after this turn's poll phase, or after the subject's write
   * in flight.
   */
  commit(subject: ResolvedSubject, waiter: CommitWaiter): void {
    const u = this.pending.get(subject);
    if (u === undefined) {
      // Nothing waits to be written: what this response added is in the write in flight, or already acknowledged.
      const inFlight = this.writing.get(subject);
      if (inFlight === undefined) waiter.committed(true);
      else void inFlight.then((acked) => waiter.committed(acked));
      return;
    }
    if (u.waiters !== null) {
      u.waiters.push(waiter);
      return;
    }
    u.waiters = [waiter];
    u.deadline = setTimeout(() => this.expire(u), this.tollgate.options.storeTimeoutMs);
    u.deadline.unref();
    this.ready.push(u);
    if (!this.readyScheduled) {
      this.readyScheduled = true;
      setImmediate(this.writeReady);
    }
  }

  private readonly writeReady = (): void => {
    this.readyScheduled = false;
    const ready = this.ready;
    this.ready = [];
    for (const u of ready) {
      // Written meanwhile; or it joins the write after the one in flight (more ends may join it until then).
      if (u.taken || this.writing.has(u.subject)) continue;
      this.pending.delete(u.subject);
      this.send(u);
    }
  };

  /** Past `storeTimeoutMs`: the waiting responses complete, degraded; a sum not yet written goes to the buffer. */
  private expire(u: SubjectUsage): void {
    u.deadline = null;
    // A write that started is bounded by its own store call's deadline, and buffers its op when that passes.
    if (u.started) return;
    u.taken = true;
    u.expired = true;
    if (this.pending.get(u.subject) === u) this.pending.delete(u.subject);
    const op = this.opOf(u);
    if (op !== null) this.tollgate.defer(op);
    u.answer(false);
  }

  /** Delivered: writes `u` after the subject's write in flight (if any); then the sum that waited behind it. */
  private send(u: SubjectUsage): Promise<boolean> {
    u.taken = true;
    const subject = u.subject;
    const prior = this.writing.get(subject);
    const write = prior === undefined ? this.writeOne(u) : prior.then(() => this.writeOne(u));
    this.writing.set(subject, write);
    void write.then(() => {
      if (this.writing.get(subject) !== write) return;
      this.writing.delete(subject);
      const next = this.pending.get(subject);
      if (next !== undefined && next.waiters !== null) {
        this.pending.delete(subject);
        this.send(next);
      }
    });
    return write;
  }

  /** The store op of a sum, or null when it holds nothing. */
  private opOf(u: SubjectUsage): PendingOp | null {
    const records = u.toRecords();
    const ids = u.settleIds;
    const split = u.split();
    if (records.length === 0 && ids === null && split === undefined) return null;
    return storeOp(u.subject, this.tollgate.ids.next(), { settles: ids, records, split });
  }

  /** Writes one sum; true once acknowledged, false when buffered or failed (logged); answers its waiters. */
  private writeOne(u: SubjectUsage): Promise<boolean> {
    // Expired while it waited behind the write in flight: it is in the fail-open buffer already.
    if (u.expired) return Promise.resolve(false);
    u.started = true;
    const op = this.opOf(u);
    if (op === null) {
      u.answer(true);
      return ACKED;
    }
    return this.tollgate.writeAcked(op).then((acked) => {
      u.answer(acked);
      return acked;
    });
  }

  /** Makes sure the pending sums are looked at by `at`. */
  dueBy(at: number): void {
    if (this.windowMs === 0) {
      this.immediate ??= setImmediate(this.writeAll);
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
  readonly writeAll = (): Promise<void> => {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = 0;
    this.immediate = null;
    if (this.pending.size === 0 && this.writing.size === 0) return Promise.resolve();
    const batch = this.pending;
    this.pending = new Map();
    const writes: Array<Promise<unknown>> = this.write(batch.values());
    // Delivered: the writes in flight too (a sum written just before this call is part of what it promises).
    for (const w of this.writing.values()) writes.push(w);
    return Promise.all(writes).then(() => undefined);
  };

  /** Starts one write per sum; the returned promises never reject (failures are logged or buffered). */
  private write(sums: Iterable<SubjectUsage>): Array<Promise<unknown>> {
    const writes: Array<Promise<unknown>> = [];
    if (this.delivered) {
      for (const u of sums) writes.push(this.send(u));
      return writes;
    }
    const at = Date.now();
    for (const u of sums) {
      const records = u.toRecords();
      const ids = u.settleIds;
      if (records.length === 0 && ids === null) continue;
      writes.push(
        this.tollgate.writeQuietly(
          storeOp(u.subject, this.tollgate.ids.next(), { settles: ids, records, at }),
        ),
      );
    }
    return writes;
  }

  /** Writes every pending sum now; resolves like `writeAll` (a later call writes what was summed since). */
  close(): Promise<void> {
    if (this.immediate !== null) clearImmediate(this.immediate);
    return this.writeAll();
  }
}
