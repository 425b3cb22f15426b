// One metered request: its admission state, what its handler records, and what it adds to its subject's usage.
import type { ServerResponse } from 'node:http';
import { QuotaExceededError, type ResolvedSubject, type UsageRecord } from '@tollgate/core';
import { asStoreError, isStoreFailure, withDeadline } from './deadline';
import { releaseIdOf, validateRecord } from '@tollgate/core/internal';
import { storeOp } from './store-ops';
import { declaredLength, type ResponseWatcher } from './node-io';
import type { HttpBinding } from './http-binding';
import { DEGRADED_HEADER, DEGRADED_VALUE, quotaRejection } from './problem';
import type { RecordOptions, RequestUsage } from './request-usage';
import type { CommitWaiter, UsageBatcher } from './settlement';
import { TicketUsage } from './ticket-usage';
import type { Tollgate } from './tollgate';

/** Admission in flight. */
export const ADMITTING = 0;
/** Handed to the handler; its usage is counted when the response closes. */
export const RUNNING = 1;
/** Counted, rejected, or never started: nothing more to count (late records still are, in their own sum). */
export const DONE = 2;
/** The client went away while admission was in flight: the handler never runs, nothing is counted. */
export const CLOSED_EARLY = 3;
/** Delivered durability: the handler ended the response; its end is held until its usage is in the store. */
export const ENDING = 4;

/** Send this answer instead of running the handler (headers, including Content-Type, are already set). */
export interface RespondOutcome {
  kind: 'respond';
  status: number;
  body: string;
}

/** Admitted: run the handler with `req.usage = usage` (a RequestTicket; adapters see only this much of it). */
export interface ProceedOutcome {
  readonly kind: 'proceed';
  readonly usage: RequestUsage;
}

/** Not metered: run the handler with `unmetered` usage. */
export interface PassOutcome {
  readonly kind: 'pass';
}

export const PASS: PassOutcome = { kind: 'pass' };

/** What admission decided: run the handler with `req.usage = usage`, answer, or (no identity) run unmetered. */
export type MeterOutcome = ProceedOutcome | RespondOutcome | PassOutcome;

/** Called once per metered request with the decision (or an error from a user callback). */
export type MeterDone = (err: unknown, outcome?: MeterOutcome) => void;

/** What every ticket of one middleware instance shares (one object, not one per request). */
export interface TicketContext<Res = unknown> {
  tollgate: Tollgate;
  usage: UsageBatcher;
  binding: HttpBinding<Res>;
}

const NOTHING: Record<string, number> = {};
/**
 * Most bytes of writes after a response's held last one (an upstream that streams on past its stream's last event)
 * held with it; past them the response is cut. Not backpressure: a writer paused as its upstream closes crashed
 * undici 7 (an assertion in its parser); and they were unbounded (170 MiB held in 2 s, with STORE_TIMEOUT_MS=2000).
 */
const MAX_HELD_BYTES = 1024 * 1024;

/** Told once when a request with an estimate that Leases counts as running ends, or never runs after all. */
export interface InFlight {
  end(): void;
}

/**
 * One metered request's state, moved on only by its own methods: `run` (admitted), `refuse` (over quota), `answer`
 * (another answer), `fail`, and the response's end and close. Handlers see `usage`, never the ticket itself.
 */
export class RequestTicket<Res = unknown> implements ProceedOutcome, ResponseWatcher, CommitWaiter {
  readonly kind = 'proceed' as const;
  /** `req.usage`: what a handler may do with this request. */
  readonly usage: RequestUsage = new TicketUsage(this);
  bytesIn = 0;
  bytesOut = 0;
  /** When metering began (ms since the epoch): also the admission's time, so a request reads the clock once there. */
  readonly startedAt = Date.now();
  private state = ADMITTING;
  private isDegraded = false;
  /** This request's own reservation (the `reserve` option), settled with what it recorded; null when none. */
  private reservationId: string | null = null;
  /** Set by Leases for a request with an estimate: its end is told there (see endInFlight). */
  inFlight: InFlight | null = null;
  /** Admitted from an admission lease: its `requests` unit reaches the ledger with its usage (delivered). */
  private fromLease = false;
  /** Refused, with its `rejected` count in its subject's sum: the answer's end waits for it (delivered). */
  private awaitsCommit = false;
  private recorded: UsageRecord[] | null = null;
  private held: string[] | null = null;
  private done: MeterDone | null;
  /** The response's last writes and its end, held while its usage is written (delivered); null while none is. */
  private heldOutput: Array<() => void> | null = null;
  /** Bytes written after the held write (that one is the response's own and does not count), up to MAX_HELD_BYTES. */
  private heldBytes = 0;
  private endHooks: Array<() => void | Promise<void>> | null = null;
  private closeHooks: Array<() => void> | null = null;
  private isLastWrite: ((chunk: string | Uint8Array) => boolean) | null = null;
  /** A last write is held and the end has not come yet: the commit starts without it past `storeTimeoutMs`. */
  private endTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ctx: TicketContext<Res>,
    readonly subject: ResolvedSubject,
    /** The framework's response object (headers go through it). */
    readonly res: Res,
    private readonly rawRes: ServerResponse,
    readonly method: string | undefined,
    readonly url: string,
    /** What the `reserve` option estimated for this request, held at admission; null when nothing. */
    readonly estimate: Record<string, number> | null,
    done: MeterDone,
  ) {
    this.done = done;
  }

  get degraded(): boolean {
    return this.isDegraded;
  }

  /** The client left while admission was in flight: nothing is counted, no handler runs. */
  get closedEarly(): boolean {
    return this.state === CLOSED_EARLY;
  }

  /** Admitted: the handler runs (with `reservationId`, this request's own estimate held by the admission op). */
  run(reservationId: string | null): void {
    this.reservationId = reservationId;
    this.state = RUNNING;
    this.deliver(this);
  }

  /** Admitted from an admission lease's unit (the lease counts it; see Leases). */
  takeLeaseUnit(): void {
    this.fromLease = true;
  }

  /** Over quota: answered with `outcome`, whose end waits for the `rejected` count (delivered durability). */
  refuse(outcome: RespondOutcome): void {
    this.state = DONE;
    this.awaitsCommit = this.ctx.usage.delivered;
    this.deliver(outcome);
  }

  /** Answered with `outcome` (a 503 while the store is down): nothing to count. */
  answer(outcome: RespondOutcome): void {
    this.state = DONE;
    this.deliver(outcome);
  }

  /** Served while the store did not answer: marked, on the response too while its headers are not sent. */
  degrade(): void {
    this.isDegraded = true;
    if (!this.rawRes.headersSent) this.ctx.binding.setHeader(this.res, DEGRADED_HEADER, DEGRADED_VALUE);
  }

  /** Hands the decision to the framework glue, once. */
  private deliver(outcome: MeterOutcome): void {
    const done = this.done;
    this.done = null;
    if (done === null) return;
    try {
      done(null, outcome);
    } catch (err) {
      // The framework runs the handler inside `done`; nothing it throws may stop other requests' admission.
      this.ctx.tollgate.callbackFailed('next', err);
    }
  }

  fail(err: unknown): void {
    this.state = DONE;
    this.endInFlight();
    const done = this.done;
    this.done = null;
    try {
      done?.(err);
    } catch (thrown) {
      this.ctx.tollgate.callbackFailed('next', thrown);
    }
  }

  record(meter: string, amount: number, options?: RecordOptions): void {
    const r: UsageRecord =
      options === undefined
        ? { meter, amount }
        : { meter, amount, model: options.model, provider: options.provider, estimated: options.estimated };
    validateRecord(this.ctx.tollgate.config, r);
    // With the `reserve` option's reservation, the usage replaces it in one settle op; otherwise it joins the
    // subject's sum at once (limits see it within usageBatchMs), even while `reserve()` holds an estimate.
    if (this.reservationId !== null && (this.state === RUNNING || this.state === ENDING)) {
      (this.recorded ??= []).push(r);
    } else this.ctx.usage.of(this.subject).record(r);
  }

  beforeEnd(hook: () => void | Promise<void>): void {
    if (!this.ctx.usage.delivered || (this.state !== RUNNING && this.state !== ADMITTING)) return;
    (this.endHooks ??= []).push(hook);
  }

  async reserve(amounts: Record<string, number>): Promise<void> {
    if (this.state !== RUNNING) return;
    const tollgate = this.ctx.tollgate;
    const id = tollgate.ids.next();
    let admission;
    try {
      admission = await tollgate.call(() =>
        tollgate.engine.consume(this.subject, NOTHING, { opId: id, reservationId: id, reserve: amounts }),
      );
    } catch (err) {
      if (!isStoreFailure(err)) throw err;
      // It may have been applied: hold the id so the end of the request releases it either way.
      this.holdReservation(id);
      this.degrade();
      if (tollgate.options.failMode === 'closed' && !tollgate.shadow) throw asStoreError(err);
      return;
    }
    if (admission.admitted) {
      this.holdReservation(id);
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

  private holdReservation(id: string): void {
    if (this.state === RUNNING) (this.held ??= []).push(id);
    else this.release(id);
  }

  /** Undoes a reservation that may exist (a no-op in the store if it does not). */
  private release(id: string): void {
    this.ctx.tollgate.writeInBackground(storeOp(this.subject, releaseIdOf(id), { settles: id }));
  }

  /**
   * Delivered durability (see ResponseWatcher.hold): keeps the end, and a write that completes the declared
   * Content-Length (the client would hold the whole body), until the response's usage is acknowledged.
   */
  hold(send: () => void, ending: boolean, chunk?: unknown, bytes = 0): boolean {
    const output = this.heldOutput;
    if (output !== null) {
      if (!ending && (this.heldBytes += bytes) > MAX_HELD_BYTES) {
        this.cutHeld();
        return true;
      }
      output.push(send);
      if (ending) this.startEnding();
      return true;
    }
    if (!this.ctx.usage.delivered) return false;
    if (this.state !== RUNNING && !(this.state === DONE && this.awaitsCommit)) return false;
    if (!ending) {
      if (!this.lastWrite(chunk)) return false;
      // Its usage is committed at the end (the handler may still record some before it), or, should the end not
      // come, past `storeTimeoutMs`: the client must not wait for an end a handler forgot.
      this.heldOutput = [send];
      // The held write itself is the response's (a large last event is no excess): only what follows it counts.
      this.heldBytes = 0;
      this.endTimer = setTimeout(() => this.startEnding(), this.ctx.tollgate.options.storeTimeoutMs);
      this.endTimer.unref();
      return true;
    }
    this.heldOutput = [send];
    this.startEnding();
    return true;
  }

  /** Too much came after the held write: nothing of it is sent, and the response is cut. */
  private cutHeld(): void {
    this.heldOutput = [];
    this.ctx.tollgate.warnOnce.warn(
      'held-overflow',
      { maxHeldBytes: MAX_HELD_BYTES },
      "Tollgate: over 1 MiB written after a response's last write (while its usage commits): that response is cut",
    );
    this.rawRes.destroy();
  }

  /** True for the write that completes a declared Content-Length, or that `holdLastWrite` names. */
  private lastWrite(chunk: unknown): boolean {
    const declared = declaredLength(this.rawRes);
    if (declared > 0 && this.bytesOut >= declared) return true;
    const isLast = this.isLastWrite;
    return isLast !== null && (typeof chunk === 'string' || chunk instanceof Uint8Array) && isLast(chunk);
  }

  holdLastWrite(isLast: (chunk: string | Uint8Array) => boolean): void {
    if (this.ctx.usage.delivered) this.isLastWrite = isLast;
  }

  /** See RequestUsage.onClose: run by `onClose()` before the request is counted. */
  addCloseHook(hook: () => void): void {
    (this.closeHooks ??= []).push(hook);
  }

  private startEnding(): void {
    if (this.endTimer !== null) clearTimeout(this.endTimer);
    this.endTimer = null;
    if (this.state === RUNNING) {
      this.state = ENDING;
      if (this.endHooks === null) this.finish();
      else void this.runHooksThenFinish();
    } else if (this.state === DONE && this.awaitsCommit) {
      this.awaitsCommit = false;
      this.ctx.usage.commit(this.subject, this);
    }
  }

  private async runHooksThenFinish(): Promise<void> {
    const hooks = this.endHooks ?? [];
    this.endHooks = null;
    for (const hook of hooks) await this.runHook(hook);
    this.finish();
  }

  /** Counts the response and commits it; its held output goes out once committed (see `committed`). */
  private finish(): void {
    this.state = DONE;
    this.count(false);
    this.ctx.usage.commit(this.subject, this);
  }

  private async runHook(hook: () => void | Promise<void>): Promise<void> {
    const tollgate = this.ctx.tollgate;
    try {
      const pending = hook();
      // Bounded like a store call: a hook that never settles must not hold the response.
      if (pending !== undefined) await withDeadline(pending, tollgate.options.storeTimeoutMs);
    } catch (err) {
      tollgate.callbackFailed('beforeEnd', err);
    }
  }

  /** The response's usage is in the store (or, `acked` false, in the fail-open buffer): its held output goes out. */
  committed(acked: boolean): void {
    const raw = this.rawRes;
    if (!acked) this.degrade();
    const output = this.heldOutput;
    this.heldOutput = null;
    // A client that left meanwhile gets nothing more.
    if (output === null || raw.destroyed) return;
    for (const send of output) {
      try {
        send();
      } catch (err) {
        // A held write or end Node refused (its headers, say) would leave the client waiting for an end that never
        // comes: the response is cut instead.
        this.ctx.tollgate.callbackFailed('end', err);
        raw.destroy();
        return;
      }
    }
  }

  onClose(): void {
    const hooks = this.closeHooks;
    this.closeHooks = null;
    if (hooks !== null) {
      for (const hook of hooks) {
        try {
          hook();
        } catch (err) {
          this.ctx.tollgate.callbackFailed('onClose', err);
        }
      }
    }
    if (this.state === ADMITTING) {
      this.state = CLOSED_EARLY;
      return;
    }
    if (this.state !== RUNNING) return;
    this.state = DONE;
    this.count(!this.rawRes.writableFinished);
  }

  /** Tells Leases, once, that this request no longer runs (its end, a failure, or a client gone before it ran). */
  endInFlight(): void {
    const inFlight = this.inFlight;
    this.inFlight = null;
    inFlight?.end();
  }

  /** Adds what this request used after admission to its subject's sum. */
  private count(aborted: boolean): void {
    // `requests` was counted at admission (or by its lease); the rest is known now.
    const u = this.ctx.usage.of(this.subject);
    this.endInFlight();
    if (this.fromLease && this.ctx.usage.delivered) u.leaseLedgered += 1;
    // Whole milliseconds on both ends: a sum over many requests is unbiased, where rounding each one would
    // count every sub-millisecond request as 0. A clock set back counts 0, never less.
    const latency = Date.now() - this.startedAt;
    if (latency > 0) u.latencyMs += latency;
    u.bytesIn += this.bytesIn;
    if (this.method !== 'HEAD') u.bytesOut += this.bytesOut > 0 ? this.bytesOut : declaredLength(this.rawRes);
    if (!aborted && this.rawRes.statusCode >= 500) u.errors += 1;
    if (this.reservationId !== null) {
      // The actual usage replaces the admission's estimate (released in full on a 5xx with nothing recorded), in
      // the subject's summed op of this window: one store op settles every request of the subject that finished.
      u.settle(this.reservationId, this.recorded ?? []);
    }
    // `reserve()`'s estimates are released by the same summed op, or a later one, never before what the request
    // recorded reaches the store (were the release first, a request in between would find the budget free).
    if (this.held !== null) for (const id of this.held) u.settle(id, []);
  }
}
