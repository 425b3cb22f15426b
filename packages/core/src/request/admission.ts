// Where a request is admitted: a subject's requests of one event-loop turn share one atomic consume, split on rejection.
import type { Admission } from '../engine';
import type { CounterState } from '../store';
import type { ResolvedSubject } from '../subject';
import { isStoreFailure, StoreTimeoutError } from './deadline';
import { safeLog } from './logger';
import { pathOf } from './path-filter';
import {
  PROBLEM_CONTENT_TYPE,
  quotaRejection,
  STORE_UNAVAILABLE_BODY,
  STORE_UNAVAILABLE_PROBLEM,
} from './problem';
import {
  RATELIMIT_HEADER,
  RATELIMIT_POLICY_HEADER,
  rateLimitPolicyValue,
  rateLimitValue,
  tightestRequestsLimit,
} from './rate-limit-headers';
import {
  CLOSED_EARLY,
  DONE,
  RUNNING,
  type RequestTicket,
  type RespondOutcome,
  type TicketContext,
} from './ticket';
import { ErrorCode } from '../errors';

/** How the engine talks to a framework's response object (headers go through the framework, so it keeps track). */
export interface HttpBinding<Res> {
  setHeader(res: Res, name: string, value: string): void;
}

export interface AdmissionContext<Res> extends TicketContext {
  binding: HttpBinding<Res>;
  rateLimitHeaders: boolean;
}

export const DEGRADED_HEADER = 'Tollgate-Degraded';
const DEGRADED_VALUE = 'store-unavailable';
const ONE_REQUEST: Record<string, number> = { requests: 1 };
const STORE_DOWN: RespondOutcome = { kind: 'respond', status: 503, body: STORE_UNAVAILABLE_BODY };

/** Requests that still fit every limit the counters show (groups consume only `requests`). */
function roomLeft(counters: readonly CounterState[]): number {
  let room = Infinity;
  for (const c of counters) if (c.limit >= 0) room = Math.min(room, c.limit - c.used);
  return room === Infinity ? 0 : Math.max(0, room);
}

/**
 * Admission, like ioredis auto-pipelining one level up: every ticket of a subject queued in the same
 * event-loop turn is admitted by one `consume({ requests: k })`. All-or-nothing stays exact: when the
 * group does not fit, the first `room` tickets are retried at once as a smaller group and the rest are
 * rejected, so never more than the limit is admitted, and no fewer than fit.
 */
export class Admissions<Res> {
  private pending = new Map<ResolvedSubject, Array<RequestTicket<Res>>>();
  private scheduled = false;

  constructor(private readonly ctx: AdmissionContext<Res>) {}

  /** Queues a ticket for this turn's group of its subject. */
  enqueue(ticket: RequestTicket<Res>): void {
    const list = this.pending.get(ticket.subject);
    if (list === undefined) this.pending.set(ticket.subject, [ticket]);
    else list.push(ticket);
    if (!this.scheduled) {
      this.scheduled = true;
      // After the poll phase: every request parsed in this turn has been queued.
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const groups = this.pending;
    this.pending = new Map();
    for (const [subject, tickets] of groups) this.decide(subject, tickets, null);
  };

  /** Admits `tickets` of one subject with one consume; `reserve` (estimates to hold) only for a single ticket. */
  decide(
    subject: ResolvedSubject,
    tickets: Array<RequestTicket<Res>>,
    reserve: Record<string, number> | null,
  ): void {
    this.run(subject, tickets, reserve).catch((err: unknown) => {
      for (const t of tickets) t.fail(err);
    });
  }

  private async run(
    subject: ResolvedSubject,
    tickets: Array<RequestTicket<Res>>,
    reserve: Record<string, number> | null,
  ): Promise<void> {
    const tollgate = this.ctx.tollgate;
    const k = tickets.length;
    const opId = tollgate.ids.next();
    let admission: Admission;
    try {
      admission = await tollgate.call(() =>
        tollgate.engine.consume(
          subject,
          k === 1 ? ONE_REQUEST : { requests: k },
          reserve === null ? { opId } : { opId, reserve, reservationId: opId },
        ),
      );
    } catch (err) {
      if (!isStoreFailure(err)) throw err;
      this.storeDown(subject, tickets, opId, reserve !== null, err);
      return;
    }
    const now = Date.now();
    if (admission.admitted) this.admitted(subject, tickets, admission, opId, reserve !== null, now);
    else this.rejected(subject, tickets, admission, now);
  }

  private setRateLimit(res: Res, policy: string | null, value: string | null): void {
    if (policy === null || value === null) return;
    this.ctx.binding.setHeader(res, RATELIMIT_POLICY_HEADER, policy);
    this.ctx.binding.setHeader(res, RATELIMIT_HEADER, value);
  }

  private admitted(
    subject: ResolvedSubject,
    tickets: Array<RequestTicket<Res>>,
    admission: Extract<Admission, { admitted: true }>,
    opId: string,
    reserved: boolean,
    now: number,
  ): void {
    const tollgate = this.ctx.tollgate;
    tollgate.emitThresholds(subject, admission.thresholds);
    // Header values are the same for the whole group: built once.
    const limit = this.ctx.rateLimitHeaders ? tightestRequestsLimit(admission.counters) : null;
    const policy = limit === null ? null : rateLimitPolicyValue(limit);
    const value = limit === null ? null : rateLimitValue(limit, now);
    let gone = 0;
    for (const t of tickets) {
      if (t.state === CLOSED_EARLY) {
        gone += 1;
        continue;
      }
      if (reserved) t.reservationId = opId;
      this.setRateLimit(t.res, policy, value);
      t.state = RUNNING;
      t.deliver(t);
    }
    // Clients that left while admission was in flight never reached a handler: take their requests back.
    if (gone > 0) {
      tollgate.settleInBackground({
        subject,
        opId: `${opId}.x`,
        reservationId: reserved ? opId : null,
        records: [],
        at: now,
        refund: gone,
      });
    }
  }

  private rejected(
    subject: ResolvedSubject,
    tickets: Array<RequestTicket<Res>>,
    admission: Extract<Admission, { admitted: false }>,
    now: number,
  ): void {
    const { tollgate, binding } = this.ctx;
    let rest = tickets;
    if (tickets.length > 1) {
      const room = roomLeft(admission.counters);
      if (room > 0) {
        const first: Array<RequestTicket<Res>> = [];
        rest = [];
        for (const t of tickets) {
          if (first.length < room && t.state !== CLOSED_EARLY) first.push(t);
          else rest.push(t);
        }
        this.decide(subject, first, null);
      }
    }
    const shadow = tollgate.shadow;
    const rejection = quotaRejection(admission.violation, now);
    const limit = this.ctx.rateLimitHeaders ? tightestRequestsLimit(admission.counters) : null;
    const policy = limit === null ? null : rateLimitPolicyValue(limit);
    const value = limit === null ? null : rateLimitValue(limit, now);
    const outcome: RespondOutcome | null = shadow
      ? null
      : { kind: 'respond', status: rejection.status, body: JSON.stringify(rejection.problem) };
    const retryAfter = rejection.retryAfter === null ? null : String(rejection.retryAfter);
    let count = 0;
    for (const t of rest) {
      if (t.state === CLOSED_EARLY) continue;
      count += 1;
      tollgate.emitRejected({
        reason: 'quota',
        status: rejection.status,
        shadow,
        tenantId: subject.tenantId,
        userId: subject.userId,
        violation: admission.violation,
        problem: rejection.problem,
        method: t.method,
        path: pathOf(t.url),
      });
      this.setRateLimit(t.res, policy, value);
      if (outcome === null) {
        t.state = RUNNING;
        t.deliver(t);
      } else {
        if (retryAfter !== null) binding.setHeader(t.res, 'Retry-After', retryAfter);
        binding.setHeader(t.res, 'Content-Type', PROBLEM_CONTENT_TYPE);
        t.state = DONE;
        t.deliver(outcome);
      }
    }
    if (count === 0) return;
    if (shadow) {
      safeLog(
        tollgate.options.logger,
        'info',
        { code: ErrorCode.QuotaExceeded, shadow: true, requests: count, ...rejection.problem },
        'Tollgate (shadow): would reject requests over quota',
      );
    }
    // The store counted one `rejected` for the op; the rest (and, in shadow mode, the requests that ran anyway) join the sum.
    if (count > 1 || shadow) {
      const u = this.ctx.usage.of(subject);
      u.rejected += count - 1;
      if (shadow) u.requests += count;
    }
  }

  private storeDown(
    subject: ResolvedSubject,
    tickets: Array<RequestTicket<Res>>,
    opId: string,
    reserved: boolean,
    err: unknown,
  ): void {
    const { tollgate, binding } = this.ctx;
    const open = tollgate.options.failMode === 'open' || tollgate.shadow;
    let alive = 0;
    for (const t of tickets) {
      if (t.state === CLOSED_EARLY) continue;
      alive += 1;
      t.degraded = true;
      binding.setHeader(t.res, DEGRADED_HEADER, DEGRADED_VALUE);
      if (open) {
        if (reserved) t.reservationId = opId;
        t.state = RUNNING;
        t.deliver(t);
        continue;
      }
      tollgate.emitRejected({
        reason: 'store',
        status: 503,
        shadow: false,
        tenantId: subject.tenantId,
        userId: subject.userId,
        problem: STORE_UNAVAILABLE_PROBLEM,
        method: t.method,
        path: pathOf(t.url),
      });
      binding.setHeader(t.res, 'Content-Type', PROBLEM_CONTENT_TYPE);
      t.state = DONE;
      t.deliver(STORE_DOWN);
    }
    if (open && alive > 0) {
      // Same op id as the admission: if it did reach the store, the replay is recognised and changes nothing.
      tollgate.defer({
        subject,
        opId,
        reservationId: null,
        records: [{ meter: 'requests', amount: alive }],
        at: Date.now(),
      });
    } else if (!open && reserved && err instanceof StoreTimeoutError) {
      // A timed-out admission may still land: release its reservation when the store answers again.
      tollgate.settleInBackground({
        subject,
        opId: `${opId}.x`,
        reservationId: opId,
        records: [],
        at: Date.now(),
      });
    }
  }
}
