// One metered request from admission to settlement: its reservation, what the handler recorded, and the final op.
import type { ServerResponse } from 'node:http';
import { QuotaExceededError } from '../errors';
import type { ResolvedSubject } from '../subject';
import { validateRecord, type UsageRecord } from '../usage';
import { isStoreFailure } from './deadline';
import type { ResponseWatcher } from './node-io';
import { quotaRejection } from './problem';
import type { RecordOptions, RequestUsage } from './request-usage';
import { asStoreError, type Tollgate } from './tollgate';

/** Admission in flight. */
export const ADMITTING = 0;
/** Handed to the handler; settled when the response closes. */
export const RUNNING = 1;
/** Settled, rejected, or never started: nothing more to count (late records go in their own op). */
export const DONE = 2;
/** The client went away while admission was in flight: the handler never runs, nothing is counted. */
export const CLOSED_EARLY = 3;

const REQUEST: UsageRecord = { meter: 'requests', amount: 1 };
const ERROR: UsageRecord = { meter: 'errors', amount: 1 };
const NOTHING: Record<string, number> = {};

export class RequestTicket implements RequestUsage, ResponseWatcher {
  readonly kind = 'proceed' as const;
  readonly metered = true;
  degraded = false;
  bytesIn = 0;
  bytesOut = 0;
  state = ADMITTING;
  /** The admission's op id, also the id of its reservation (so it can be settled even if the answer was lost). */
  readonly opId: string;
  private readonly startedAt = performance.now();
  private recorded: UsageRecord[] | null = null;
  private held: string[] | null = null;

  constructor(
    private readonly tollgate: Tollgate,
    readonly subject: ResolvedSubject,
    private readonly res: ServerResponse,
    private readonly head: boolean,
  ) {
    this.opId = tollgate.ids.next();
  }

  get tenantId(): string | null {
    return this.subject.tenantId;
  }

  get userId(): string | null {
    return this.subject.userId;
  }

  get plan(): string {
    return this.subject.plan;
  }

  record(meter: string, amount: number, options?: RecordOptions): void {
    const r: UsageRecord =
      options === undefined
        ? { meter, amount }
        : { meter, amount, model: options.model, provider: options.provider, estimated: options.estimated };
    validateRecord(this.tollgate.config, r);
    if (this.state === RUNNING) {
      (this.recorded ??= []).push(r);
      return;
    }
    // After the response: still counted, in an op of its own.
    this.tollgate.settleInBackground({
      subject: this.subject,
      opId: this.tollgate.ids.next(),
      reservationId: null,
      records: [r],
      at: Date.now(),
    });
  }

  async reserve(amounts: Record<string, number>): Promise<void> {
    if (this.state !== RUNNING) return;
    const tollgate = this.tollgate;
    const id = tollgate.ids.next();
    let admission;
    try {
      admission = await tollgate.call(() =>
        tollgate.engine.consume(this.subject, NOTHING, { opId: id, reservationId: id, reserve: amounts }),
      );
    } catch (err) {
      if (!isStoreFailure(err)) throw err;
      // It may have been applied: hold the id so the settlement releases it either way.
      this.hold(id);
      this.degraded = true;
      if (tollgate.options.failMode === 'closed' && !tollgate.shadow) throw asStoreError(err);
      return;
    }
    if (admission.admitted) {
      this.hold(id);
      tollgate.emitThresholds(this.subject, admission.thresholds);
      return;
    }
    const rejection = quotaRejection(admission.violation, Date.now());
    tollgate.emitRejected({
      reason: 'quota',
      status: rejection.status,
      shadow: tollgate.shadow,
      tenantId: this.subject.tenantId,
      userId: this.subject.userId,
      violation: admission.violation,
      problem: rejection.problem,
    });
    if (!tollgate.shadow) throw new QuotaExceededError(rejection.problem.detail, rejection);
  }

  private hold(id: string): void {
    if (this.state === RUNNING) (this.held ??= []).push(id);
    else this.release(id);
  }

  /** Undoes a reservation that may exist (a no-op in the store if it does not). */
  release(id: string): void {
    this.tollgate.settleInBackground({
      subject: this.subject,
      opId: `${id}.r`,
      reservationId: id,
      records: [],
      at: Date.now(),
    });
  }

  onClose(): void {
    if (this.state === ADMITTING) {
      this.state = CLOSED_EARLY;
      return;
    }
    if (this.state !== RUNNING) return;
    this.state = DONE;
    this.settle(!this.res.writableFinished);
  }

  /** One op: replaces the admission's reservation with the request, its status, latency, bytes and recorded usage. */
  private settle(aborted: boolean): void {
    const records: UsageRecord[] = [REQUEST];
    const latency = Math.round(performance.now() - this.startedAt);
    if (latency > 0) records.push({ meter: 'latency_ms', amount: latency });
    if (this.bytesIn > 0) records.push({ meter: 'bytes_in', amount: this.bytesIn });
    if (this.bytesOut > 0 && !this.head) records.push({ meter: 'bytes_out', amount: this.bytesOut });
    if (!aborted && this.res.statusCode >= 500) records.push(ERROR);
    if (this.recorded !== null) for (const r of this.recorded) records.push(r);
    const at = Date.now();
    this.tollgate.settleInBackground({
      subject: this.subject,
      opId: `${this.opId}.f`,
      reservationId: this.opId,
      records,
      at,
    });
    if (this.held !== null) for (const id of this.held) this.release(id);
  }
}
