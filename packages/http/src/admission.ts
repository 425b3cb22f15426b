// Where a request is admitted: a subject's requests of one event-loop turn share one atomic consume, split on rejection.
import {
  type Admission,
  type Violation,
  type CounterState,
  type ResolvedSubject,
  ErrorCode,
} from '@tollgate/core';
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
  rateLimitPolicyValue,
  rateLimitValue,
  setRateLimitHeaders,
  tightestRequestsLimit,
} from './rate-limit-headers';
import type { AdmissionContext } from './admission-context';
import { type RequestTicket, type RespondOutcome } from './ticket';
import { refundIdOf, reservationIdOf } from '@tollgate/core/internal';
import { split, reservesOf } from './group-split';
import { Leases } from './leases';
import { storeOp } from './store-ops';

/** How the engine talks to a framework's response object (headers go through the framework, so it keeps track). */

const ONE_REQUEST: Record<string, number> = { requests: 1 };
const NONE: ReadonlyArray<RequestTicket<never>> = [];
const STORE_DOWN: RespondOutcome = { kind: 'respond', status: 503, body: STORE_UNAVAILABLE_BODY };

/** A rejection's answer, built once per violated limit. */
interface Answer {
  rejection: ReturnType<typeof quotaRejection>;
  outcome: RespondOutcome | null;
  retryAfter: string | null;
  /** RateLimit values naming the violated limit when it is not a `requests` one (a spent budget); else null. */
  policy: string | null;
  value: string | null;
}

/**
 * Admission, like ioredis auto-pipelining one level up: every ticket of a subject queued in the same
 * event-loop turn is admitted by one `consume({ requests: k })`, which also holds each ticket's own
 * reservation (its estimate), all or nothing. All-or-nothing stays exact: when the group does not fit,
 * the tickets that fit the counters the rejection showed (in order) are retried at once as a smaller group
 * and the rest are rejected, so never more than the limit is admitted, and no fewer than fit.
 */
export class Admissions<Res> {
  private pending = new Map<ResolvedSubject, Array<RequestTicket<Res>>>();
  private scheduled = false;
  /** Busy subjects' requests are admitted from a lease when one has a unit (and room for their estimate) left. */
  private readonly leases: Leases<Res> | null;

  constructor(private readonly ctx: AdmissionContext<Res>) {
    this.leases = ctx.leaseMs > 0 && !ctx.tollgate.shadow ? new Leases(ctx, ctx.leaseMs) : null;
  }

  /** Admits `ticket` from its subject's lease, or queues it for this turn's group of its subject. */
  enqueue(ticket: RequestTicket<Res>): void {
    // A new ticket's start time is now: one clock read per request.
    if (this.leases !== null && this.leases.admit(ticket, ticket.startedAt)) {
      return;
    }
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
    for (const [subject, tickets] of groups) this.decide(subject, tickets);
  };

  /** Admits `tickets` of one subject with one consume (holding each ticket's estimate under its own id). */
  decide(subject: ResolvedSubject, tickets: Array<RequestTicket<Res>>): void {
    this.run(subject, tickets).catch((err: unknown) => {
      for (const t of tickets) t.fail(err);
    });
  }

  private async run(subject: ResolvedSubject, tickets: Array<RequestTicket<Res>>): Promise<void> {
    const tollgate = this.ctx.tollgate;
    const k = tickets.length;
    const opId = tollgate.ids.next();
    const reserves = reservesOf(tickets, opId);
    let admission: Admission;
    try {
      admission = await tollgate.call(() =>
        tollgate.engine.consume(
          subject,
          k === 1 ? ONE_REQUEST : { requests: k },
          // Rejections are counted in one place, the subject's sum, once known (a refused group may be split, or
          // admitted from a lease that lands meanwhile), never by the store.
          { opId, reserves: reserves ?? undefined, countRejected: false },
        ),
      );
    } catch (err) {
      if (!isStoreFailure(err)) throw err;
      this.storeDown(subject, tickets, opId, err);
      return;
    }
    const now = Date.now();
    if (admission.admitted) this.admitted(subject, tickets, admission, opId, now);
    else this.rejected(subject, tickets, admission, now);
  }

  private admitted(
    subject: ResolvedSubject,
    tickets: Array<RequestTicket<Res>>,
    admission: Extract<Admission, { admitted: true }>,
    opId: string,
    now: number,
  ): void {
    const tollgate = this.ctx.tollgate;
    tollgate.emitThresholds(subject, admission.thresholds);
    // Header values are the same for the whole group: built once.
    const limit = this.ctx.rateLimitHeaders ? tightestRequestsLimit(admission.counters) : null;
    const policy = limit === null ? null : rateLimitPolicyValue(limit);
    const value = limit === null ? null : rateLimitValue(limit, now);
    // Noted before any handler runs: one may end its response at once, and the end takes its request off.
    this.leases?.observe(subject, tickets, admission.counters, now);
    let gone = 0;
    let goneIds: string[] | null = null;
    for (let i = 0; i < tickets.length; i++) {
      const t = tickets[i]!;
      if (t.closedEarly) {
        gone += 1;
        if (t.estimate !== null) (goneIds ??= []).push(reservationIdOf(opId, i));
        continue;
      }
      setRateLimitHeaders(this.ctx.binding, t.res, policy, value);
      t.run(t.estimate === null ? null : reservationIdOf(opId, i));
    }
    // Clients that left while admission was in flight never reached a handler: take their requests (and
    // reservations) back.
    if (gone > 0) {
      tollgate.writeInBackground(
        storeOp(subject, refundIdOf(opId), { settles: goneIds, at: now, refund: gone }),
      );
    }
  }

  private rejected(
    subject: ResolvedSubject,
    tickets: Array<RequestTicket<Res>>,
    admission: Extract<Admission, { admitted: false }>,
    now: number,
  ): void {
    let rest = tickets;
    let over: Map<RequestTicket<Res>, Violation> | null = null;
    let counters: readonly CounterState[] = admission.counters;
    if (tickets.length > 1 && admission.counters.length > 0) {
      const parts = split(tickets, admission.counters, subject.gates);
      if (parts.fit.length < tickets.length) {
        over = parts.over;
        counters = parts.after;
        // Only a strictly smaller group is retried (the counters said this one does not fit), so this ends.
        if (parts.fit.length > 0) {
          const kept = new Set(parts.fit);
          rest = tickets.filter((t) => !kept.has(t));
          this.decide(subject, parts.fit);
        }
      }
    }
    const leases = this.leases;
    if (leases === null) {
      this.reject(subject, rest, over, admission, counters, now);
      return;
    }
    leases.observe(subject, NONE, admission.counters, now);
    // This instance's own lease may hold the room the store refused: its units admit these first.
    leases.afterRequest(subject, () => {
      const at = Date.now();
      const left = rest.filter((t) => t.closedEarly || !leases.admit(t, at));
      this.reject(subject, left, over, admission, counters, now);
    });
  }

  /**
   * Answers `rest` with the rejection (or, in shadow mode, lets them run), with one answer per violated limit;
   * `counters` are the rejection's (after a split, with what the kept requests take), for the RateLimit headers.
   */
  private reject(
    subject: ResolvedSubject,
    rest: Array<RequestTicket<Res>>,
    over: Map<RequestTicket<Res>, Violation> | null,
    admission: Extract<Admission, { admitted: false }>,
    counters: readonly CounterState[],
    now: number,
  ): void {
    const { tollgate, binding } = this.ctx;
    const shadow = tollgate.shadow;
    const limit = this.ctx.rateLimitHeaders ? tightestRequestsLimit(counters) : null;
    const policy = limit === null ? null : rateLimitPolicyValue(limit);
    const value = limit === null ? null : rateLimitValue(limit, now);
    let count = 0;
    for (const t of rest) if (!t.closedEarly) count += 1;
    if (count === 0) return;
    // Counted before any answer goes out: with delivered durability an answer's end waits for its count's write.
    this.countRejected(subject, count, shadow);
    // One answer per violated limit (usually one for the whole group), built once.
    const answers = new Map<Violation, Answer>();
    for (const t of rest) {
      if (t.closedEarly) continue;
      const violation = over?.get(t) ?? admission.violation;
      let a = answers.get(violation);
      if (a === undefined) answers.set(violation, (a = this.answer(violation, shadow, now)));
      const { rejection, outcome, retryAfter } = a;
      tollgate.emitRejected({
        reason: 'quota',
        status: rejection.status,
        shadow,
        tenantId: subject.tenantId,
        userId: subject.userId,
        violation,
        problem: rejection.problem,
        method: t.method,
        path: pathOf(t.url),
      });
      setRateLimitHeaders(this.ctx.binding, t.res, a.policy ?? policy, a.value ?? value);
      if (outcome === null) {
        t.run(null);
      } else {
        if (retryAfter !== null) binding.setHeader(t.res, 'Retry-After', retryAfter);
        binding.setHeader(t.res, 'Content-Type', PROBLEM_CONTENT_TYPE);
        t.refuse(outcome);
      }
    }
    const rejection = answers.values().next().value!.rejection;
    if (shadow) {
      safeLog(
        tollgate.options.logger,
        'info',
        { code: ErrorCode.QuotaExceeded, shadow: true, requests: count, ...rejection.problem },
        'Tollgate (shadow): would reject requests over quota',
      );
    }
  }

  /** Every rejected request (and, in shadow mode, the requests that ran anyway) joins the subject's sum. */
  private countRejected(subject: ResolvedSubject, count: number, shadow: boolean): void {
    const u = this.ctx.usage.of(subject);
    u.rejected += count;
    if (shadow) {
      // Shadow mode's requests are counted here, not at admission: limits read them.
      u.requests += count;
      u.urgent();
    }
  }

  /** The 429/403 answer for one violated limit. */
  private answer(violation: Violation, shadow: boolean, now: number): Answer {
    const rejection = quotaRejection(violation, now);
    const outcome: RespondOutcome | null = shadow
      ? null
      : { kind: 'respond', status: rejection.status, body: JSON.stringify(rejection.problem) };
    const retryAfter = rejection.retryAfter === null ? null : String(rejection.retryAfter);
    // Refused by a spent budget (a gate): the headers name it, with nothing remaining, rather than a `requests`
    // limit with room a client would retry into at once.
    const own = this.ctx.rateLimitHeaders && violation.meter !== 'requests';
    const policy = own ? rateLimitPolicyValue(violation) : null;
    const value = own ? rateLimitValue(violation, now) : null;
    return { rejection, outcome, retryAfter, policy, value };
  }

  /** Closes the open leases (counted by the next usage write, or by their own ops: returned); new ones follow the traffic. */
  closeOpenLeases(): Array<Promise<void>> {
    return this.leases?.closeOpen() ?? [];
  }

  /** Counts what every lease used and releases the rest (the process is stopping). */
  async close(): Promise<void> {
    await this.leases?.closeAll();
  }

  private storeDown(
    subject: ResolvedSubject,
    tickets: Array<RequestTicket<Res>>,
    opId: string,
    err: unknown,
  ): void {
    const { tollgate, binding } = this.ctx;
    const open = tollgate.options.failMode === 'open' || tollgate.shadow;
    const ids = reservesOf(tickets, opId)?.map((r) => r.id) ?? null;
    let alive = 0;
    for (let i = 0; i < tickets.length; i++) {
      const t = tickets[i]!;
      if (t.closedEarly) continue;
      alive += 1;
      t.degrade();
      if (open) {
        t.run(t.estimate === null ? null : reservationIdOf(opId, i));
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
      t.answer(STORE_DOWN);
    }
    if (open && alive > 0) {
      // Same op id as the admission: if it did reach the store, the replay is recognised and changes nothing.
      tollgate.defer(storeOp(subject, opId, { records: [{ meter: 'requests', amount: alive }] }));
    } else if (!open && ids !== null && err instanceof StoreTimeoutError) {
      // A timed-out admission may still land: release its reservations when the store answers again.
      tollgate.writeInBackground(storeOp(subject, refundIdOf(opId), { settles: ids }));
    }
  }
}
