// Where post-response usage is counted: summed per subject for `usageBatchMs` (reservation settlements too), then written in one store op.
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
  /** Reservations of finished requests, undone by the same op that records their (summed) actual usage. */
  settleIds: string[] | null = null;

  constructor(readonly subject: ResolvedSubject) {}

  record(r: UsageRecord): void {
    if (r.amount === 0) return;
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
    (this.settleIds ??= []).push(reservationId);
    for (const r of records) this.record(r);
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

/**
 * Sums usage per subject and writes each subject's sum in one op per window (one op per subject, not per
 * request); finished requests' reservations are undone by that same op, each exactly once. A failed write goes to the fail-open buffer like any settlement, with its own op id.
 */
export class UsageBatcher {
  private pending = new Map<ResolvedSubject, SubjectUsage>();
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;

  constructor(
    private readonly tollgate: Tollgate,
    private readonly windowMs: number,
  ) {}

  /** The running sum of `subject`; written within `usageBatchMs`. */
  of(subject: ResolvedSubject): SubjectUsage {
    let u = this.pending.get(subject);
    if (u === undefined) {
      u = new SubjectUsage(subject);
      this.pending.set(subject, u);
      this.schedule();
    }
    return u;
  }

  private schedule(): void {
    if (this.timer !== null || this.immediate !== null) return;
    if (this.windowMs === 0) {
      this.immediate = setImmediate(this.flush);
    } else {
      this.timer = setTimeout(this.flush, this.windowMs);
      this.timer.unref();
    }
  }

  /** Writes every pending sum now. */
  readonly flush = (): void => {
    this.timer = null;
    this.immediate = null;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const at = Date.now();
    for (const u of batch.values()) {
      const records = u.toRecords();
      const ids = u.settleIds;
      if (records.length === 0 && ids === null) continue;
      this.tollgate.settleInBackground({
        subject: u.subject,
        opId: this.tollgate.ids.next(),
        reservationId: null,
        reservationIds: ids ?? undefined,
        records,
        at,
      });
    }
  };

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.flush();
  }
}
