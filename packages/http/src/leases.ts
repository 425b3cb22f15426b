// Over 400 lines on purpose: one lease's life (grant, take, renew, close, wait for its calls, settle) is one state
// machine; split, its states would be read across files. How big a lease is: lease-sizing.ts; what estimates amount
// to and what a lease holds of them: lease-estimates.ts.
// Admission leases: a busy subject's requests admitted from a block of `requests` reserved in the store, without a
// round trip each. Exact by construction: every request admitted here holds one unit of a reservation the store
// granted atomically against every limit, and the op that counts the used units releases the rest. With delivered
// durability each request's unit reaches the ledger with its response's usage, and that closing op counts the used
// units on the counters alone. A request with an estimate (an LLM call's tokens and cost) also takes its estimate
// from the amounts its lease holds of those meters; what it then uses is recorded as it would be without a lease,
// while the lease still holds the estimate (so the counters show more, never less, until the lease is settled). A
// closed lease is settled (its reservation undone) only once every call it admitted has ended: a call runs for
// seconds, a lease for milliseconds, and a call's estimate must be held until its usage is recorded.
import type { Admission, CounterState, ResolvedSubject, UsageRecord } from '@tollgate/core';
import { isStoreFailure } from './deadline';
import {
  policyName,
  rateLimitPolicyValue,
  rateLimitValue,
  setRateLimitHeaders,
  tightestRequestsLimit,
} from './rate-limit-headers';
import { leaseCloseIdOf, refundIdOf } from '@tollgate/core/internal';
import { storeOp } from './store-ops';
import type { InFlight, RequestTicket } from './ticket';
import type { AdmissionContext } from './admission-context';
import { leaseAmounts, leasePeriod, leaseUnits, MAX_PERIOD_FACTOR, minuteEnd } from './lease-sizing';
import { EstimateRates, fits, take, type HeldAmounts } from './lease-estimates';

/** A subject must admit this many requests within `RATE_WINDOW_MS` (or one burst) before it gets a lease. */
const LEASE_MIN_RATE = 8;
/** Request rates are measured over this long. */
const RATE_WINDOW_MS = 100;
/**
 * A lease closed further than the usage batcher's longest delay plus this from the end of its window is counted by
 * the subject's next usage write (within that delay, with this much to spare for a stalled event loop); closer, by its
 * own op, timed at its last use.
 */
const FOLD_MARGIN_MS = 2000;
/** While a spare is on its way, an expired lease goes on for at most this long (a slow store, not a dead one). */
const MAX_OVERRUN_MS = 1000;
/**
 * Closed leases holding estimates that may wait for their calls, per subject: while more wait, new leases hold no
 * estimates (those calls are admitted by the store), so held amounts cannot pile up behind long calls.
 */
const MAX_WAITING_HELD = 2;
/** Subjects tracked at most (only busy ones ever hold a lease); idle ones are dropped beyond it. */
const MAX_SUBJECTS = 10_000;
const NO_REQUESTS: Record<string, number> = {};

interface Lease extends HeldAmounts {
  /** The reservation's id in the store. */
  readonly id: string;
  readonly granted: number;
  used: number;
  /** What it holds of other meters for its requests' estimates (tokens, cost), and what they took; null when none. */
  readonly held: ReadonlyMap<string, number> | null;
  readonly taken: Map<string, number> | null;
  /** How long it lasts once current (see leasePeriod). */
  readonly periodMs: number;
  /** Local admissions stop here: one lease period after it became current, at most `windowEnd`. */
  until: number;
  /** When it became current. */
  startedAt: number;
  /** The minute boundary after the op that granted it (every window boundary is one): its units are that window's. */
  readonly windowEnd: number;
  /** When the last unit was taken (the counting op's time, so the usage lands in the windows it was reserved in). */
  lastAt: number;
  /** The tightest `requests` limit as the grant left it (the whole lease counted as used), for headers. */
  readonly limit: CounterState | null;
  readonly policy: string | null;
  /** `limit`'s policy name, kept for the per-request `RateLimit` value. */
  readonly limitName: string;
  timer: NodeJS.Timeout | null;
  /** No more admissions from it. */
  closed: boolean;
  /** Its calls with an estimate that have not ended; it is settled when closed and none is left. */
  calls: number;
  /** Its closing op is written (or joined its subject's usage sum). */
  settled: boolean;
  /** Told by each of its calls' ends. */
  readonly call: InFlight;
  readonly holder: SubjectLeases;
}

interface SubjectLeases {
  current: Lease | null;
  /** Granted ahead of need, taken over when `current` runs out. */
  next: Lease | null;
  requesting: boolean;
  /** Admissions counted in the running lease period, and when it began. */
  count: number;
  since: number;
  /** Admissions per ms over the last full period. */
  rate: number;
  /** Requests with an estimate running now, and when one was admitted while another ran. */
  running: number;
  overlapAt: number;
  /** Told by the end of each such request the store admitted. */
  readonly call: InFlight;
  /** Its closed leases holding estimates that wait for their calls to end. */
  waitingHeld: number;
  /** Its estimates per ms (what a lease holds of each estimated meter is sized from them). */
  readonly estimates: EstimateRates;
  /** The counters last seen for this subject (the room a new lease may take). */
  counters: readonly CounterState[];
  /** No lease request before this (after a refusal or a store failure). */
  quietUntil: number;
  /** Rejections waiting for the lease request in flight (its units may admit them). */
  waiters: Array<() => void> | null;
}

export class Leases<Res> {
  private readonly subjects = new Map<ResolvedSubject, SubjectLeases>();
  private readonly ttlMs: number;
  private closing = false;
  /** Lease requests in flight (close() waits for them, so a late grant is released before the store is closed). */
  private readonly asking = new Set<Promise<void>>();
  /** Admitted from a lease, handed over after the poll phase; each with the lease its unit came from. */
  private readyTickets: Array<RequestTicket<Res>> = [];
  /** The lease each ready ticket's unit came from (parallel arrays: no object per request). */
  private readyLeases: Lease[] = [];
  private readonly foldBeforeMs: number;
  /** Closed leases waiting for their calls with an estimate to end before they are settled, with their subjects. */
  private readonly waiting = new Map<Lease, ResolvedSubject>();
  /** How long a call admitted with an estimate has it held: as long as its own reservation would be. */
  private readonly callTtlMs: number;
  /** How long the store holds a lease that holds estimates: its last call's `callTtlMs`, and time to settle it. */
  private readonly heldTtlMs: number;

  constructor(
    private readonly ctx: AdmissionContext<Res>,
    private readonly periodMs: number,
  ) {
    // Long enough that the counting op lands before the store would release the units on its own (that is
    // only for a process that died holding a lease).
    // A closed lease waits in its subject's sum at most the statistics' delay (see UsageBatcher).
    this.foldBeforeMs = ctx.usage.statsDelayMs + FOLD_MARGIN_MS;
    // A lease can be in use for two periods (a spare waits one) plus its overrun, then its count waits for
    // the usage write: the store must hold its units (with room to spare) until then.
    const longest = 2 * periodMs * MAX_PERIOD_FACTOR + MAX_OVERRUN_MS + this.foldBeforeMs;
    this.ttlMs = Math.max(10_000, 2 * longest);
    this.callTtlMs = ctx.tollgate.options.reservationTtlMs;
    // A lease's last admission comes at most `longest` after its grant; its settling op within `ttlMs` after.
    this.heldTtlMs = this.ttlMs + this.callTtlMs;
  }

  /** Admits `ticket` from its subject's lease at `now`; false when there is none with a unit left. */
  admit(ticket: RequestTicket<Res>, now: number): boolean {
    const subject = ticket.subject;
    const s = this.subjects.get(subject);
    if (s === undefined) return false;
    const estimate = ticket.estimate;
    let lease = s.current;
    if (lease !== null && (lease.used >= lease.granted || this.over(s, lease, now))) {
      lease = this.promote(subject, s, now);
    } else if (lease === null && s.next !== null) {
      lease = this.promote(subject, s, now);
    } else if (
      estimate !== null &&
      lease !== null &&
      s.next !== null &&
      !fits(lease, estimate) &&
      fits(s.next, estimate)
    ) {
      // The estimates used up what the current one holds: the spare takes over.
      lease = this.promote(subject, s, now);
    }
    if (lease === null) return false;
    if (estimate !== null) {
      if (!fits(lease, estimate)) {
        // Admitted by the store instead; a spare sized to the estimates seen since is on its way for the next ones.
        if (s.next === null && !s.requesting) this.request(subject, s, now);
        return false;
      }
      take(lease, estimate, 1);
      this.countEstimate(s, ticket, now);
      lease.calls += 1;
      ticket.inFlight = lease.call;
    }
    ticket.takeLeaseUnit();
    lease.used += 1;
    lease.lastAt = now;
    this.count(s, 1, now);
    const limit = lease.limit;
    if (limit !== null) {
      const used = limit.used - lease.granted + lease.used;
      setRateLimitHeaders(
        this.ctx.binding,
        ticket.res,
        lease.policy,
        rateLimitValue(limit, now, used, lease.limitName),
      );
    }
    // A spare is held while one is in use, so busy traffic never waits for the store.
    if (s.next === null && !s.requesting) this.request(subject, s, now);
    // Handed over after the poll phase, with the rest of this turn's requests, as a store admission would be:
    // answering each request inside its parser callback costs a wake-up of the client per response (measured:
    // about half the throughput on loopback).
    // The ticket stays ADMITTING until then, so a client that leaves first is seen (CLOSED_EARLY).
    this.readyLeases.push(lease);
    if (this.readyTickets.push(ticket) === 1) setImmediate(this.deliverReady);
    return true;
  }

  private readonly deliverReady = (): void => {
    const tickets = this.readyTickets;
    const leases = this.readyLeases;
    this.readyTickets = [];
    this.readyLeases = [];
    for (let i = 0; i < tickets.length; i++) {
      const ticket = tickets[i]!;
      if (ticket.closedEarly) {
        this.giveBack(ticket, leases[i]!);
        continue;
      }
      ticket.run(null);
    }
  };

  /** A unit taken for a request whose client left before its handler ran: nothing is counted for it. */
  private giveBack(ticket: RequestTicket<Res>, lease: Lease): void {
    const { subject, estimate } = ticket;
    const settled = lease.settled;
    if (!settled) {
      lease.used -= 1;
      if (estimate !== null) take(lease, estimate, -1);
    }
    // It never runs, so no end of its comes: this is it (and may settle its lease, with this unit given back).
    ticket.endInFlight();
    if (!settled) return;
    // Already closed with this unit counted: take the request back, like an admission whose client left (its
    // estimate was held by the lease alone, released when it closed).
    const tollgate = this.ctx.tollgate;
    const opId = refundIdOf(tollgate.ids.next());
    // Delivered: its ledger unit comes only with a response, and this one never ran: the counters alone take it back.
    const back = this.ctx.usage.delivered ? { split: { countersOnly: -1 } } : { refund: 1 };
    tollgate.writeInBackground(storeOp(subject, opId, { ...back, at: lease.lastAt }));
  }

  /**
   * True when `lease`'s period is over. While its spare is still on the way (a store slower than a period) it
   * goes on, within its window and for at most MAX_OVERRUN_MS, so the subject does not fall back to a round trip
   * per request exactly when the store is slow.
   */
  private over(s: SubjectLeases, lease: Lease, now: number): boolean {
    if (now < lease.until) return false;
    return !(s.requesting && now < lease.windowEnd && now - lease.startedAt < MAX_OVERRUN_MS);
  }

  /**
   * Notes `admitted`, requests of `subject` the store admitted (those whose client left excepted), with what its
   * counters said; may start a lease.
   */
  observe(
    subject: ResolvedSubject,
    admitted: ReadonlyArray<RequestTicket<Res>>,
    counters: readonly CounterState[],
    now: number,
  ): void {
    let s = this.subjects.get(subject);
    if (s === undefined) {
      if (this.subjects.size >= MAX_SUBJECTS) this.dropIdle();
      s = subjectLeases(counters, now);
      this.subjects.set(subject, s);
    }
    if (counters.length > 0) s.counters = counters;
    let n = 0;
    for (const t of admitted) {
      if (t.closedEarly) continue;
      n += 1;
      if (t.estimate !== null) this.countEstimate(s, t, now);
    }
    this.count(s, n, now);
    if (s.current === null && s.next === null && !s.requesting && s.rate > 0) {
      this.request(subject, s, now);
    }
  }

  private count(s: SubjectLeases, n: number, now: number): void {
    s.count += n;
    const elapsed = now - s.since;
    if (elapsed >= RATE_WINDOW_MS) {
      s.rate = s.count / elapsed;
      s.estimates.measure(elapsed, true);
      s.count = 0;
      s.since = now;
    } else if (s.rate === 0 && s.count >= LEASE_MIN_RATE) {
      // A first burst: its own rate (over at least a millisecond) until a full period is measured.
      s.rate = s.count / Math.max(1, elapsed);
      s.estimates.measure(Math.max(1, elapsed), false);
    }
  }

  /** Adds an admitted request's estimate to its subject's rates, and the request to those running. */
  private countEstimate(s: SubjectLeases, ticket: RequestTicket<Res>, now: number): void {
    if (s.running > 0) s.overlapAt = now;
    s.running += 1;
    ticket.inFlight = s.call;
    s.estimates.add(ticket.estimate!);
  }

  /**
   * Runs `then` once the subject's lease request in flight (if any) has been answered: a rejection waits for it,
   * since the units it holds would otherwise stand unused while the store turns this instance's own requests away.
   */
  afterRequest(subject: ResolvedSubject, then: () => void): void {
    const s = this.subjects.get(subject);
    if (s === undefined || !s.requesting) then();
    else (s.waiters ??= []).push(then);
  }

  /** Runs the rejections that waited for the lease request just answered. */
  private wake(s: SubjectLeases): void {
    const waiters = s.waiters;
    s.waiters = null;
    if (waiters === null) return;
    for (const w of waiters) {
      try {
        w();
      } catch (err) {
        // One failing answer must not leave the others waiting.
        this.ctx.tollgate.callbackFailed('lease', err);
      }
    }
  }

  /** Closes the current lease and makes the spare current (its period starts now). */
  private promote(subject: ResolvedSubject, s: SubjectLeases, now: number): Lease | null {
    const old = s.current;
    const next = s.next;
    s.current = null;
    s.next = null;
    if (next !== null && now < next.windowEnd) {
      this.start(subject, next, now);
      s.current = next;
    } else if (next !== null) {
      this.close(subject, next);
    }
    if (old !== null) this.close(subject, old);
    return s.current;
  }

  private start(subject: ResolvedSubject, lease: Lease, now: number): void {
    lease.startedAt = now;
    lease.lastAt = now;
    lease.until = Math.min(now + lease.periodMs, lease.windowEnd);
    lease.timer = setTimeout(() => this.expire(subject, lease), lease.until - now);
    lease.timer.unref();
  }

  /** Asks the store for a lease sized to the subject's rate, in the background. */
  private request(subject: ResolvedSubject, s: SubjectLeases, now: number): void {
    if (this.closing || now < s.quietUntil || s.rate === 0) return;
    const periodMs = leasePeriod(s.rate, this.periodMs);
    const warnAt = this.ctx.tollgate.config.warnAt;
    const amounts = this.amountsFor(s, periodMs, now);
    const held = amounts?.held ?? null;
    // No more units than its requests without an estimate, and the estimates it holds, can use.
    const plainRate = Math.max(0, s.rate - s.estimates.rate);
    let units = leaseUnits(amounts === null ? plainRate : s.rate, periodMs, s.counters, warnAt);
    if (amounts !== null) units = Math.min(units, Math.ceil(plainRate * periodMs * 1.5) + amounts.covers);
    if (units === 0) return;
    const reserve: Record<string, number> = { requests: units };
    if (held !== null) for (const [meter, amount] of held) reserve[meter] = amount;
    s.requesting = true;
    const tollgate = this.ctx.tollgate;
    const id = tollgate.ids.next();
    // The units are held in the windows of the op's time, which is before the answer: past the minute boundary
    // that follows `now`, they would be the previous window's.
    const windowEnd = minuteEnd(now);
    const asked = tollgate
      .call(() =>
        tollgate.engine.consume(subject, NO_REQUESTS, {
          opId: id,
          reservationId: id,
          reserve,
          // Its estimates are held until the calls that took them end, which takes as long as calls take.
          reservationTtlMs: held === null ? this.ttlMs : this.heldTtlMs,
          countRejected: false,
        }),
      )
      .then(
        (admission) => {
          s.requesting = false;
          try {
            this.granted(subject, s, admission, id, units, held, periodMs, windowEnd);
          } finally {
            this.wake(s);
          }
        },
        (err: unknown) => {
          s.requesting = false;
          s.quietUntil = Date.now() + 1000;
          this.wake(s);
          // A lease that may have been granted after all (a timeout) is given back; a no-op if it never was.
          this.release(subject, id);
          if (!isStoreFailure(err)) tollgate.callbackFailed('lease', err);
        },
      );
    this.asking.add(asked);
    const done = (): void => void this.asking.delete(asked);
    asked.then(done, done);
  }

  /**
   * What a lease for `s` holds of each meter its recent estimates named, sized like its units, and how many average
   * estimates that covers; null when none did, when any would be too little for a few estimates, or when the
   * subject's calls with an estimate did not overlap lately (those requests are then admitted by the store).
   * Held amounts show in the counters until the lease closes: a client that waits for each response, alone on its
   * subject, must never see them (SPEC §5), and gains nothing from them (its calls share no op anyway).
   */
  private amountsFor(
    s: SubjectLeases,
    periodMs: number,
    now: number,
  ): { held: Map<string, number>; covers: number } | null {
    if (now - s.overlapAt > RATE_WINDOW_MS || s.waitingHeld >= MAX_WAITING_HELD) return null;
    return leaseAmounts(s.estimates, periodMs, s.counters, this.ctx.tollgate.config.warnAt);
  }

  /** Takes a lease request's answer: the new lease becomes current, or the spare, or is closed at once. */
  private granted(
    subject: ResolvedSubject,
    s: SubjectLeases,
    admission: Admission,
    id: string,
    units: number,
    held: ReadonlyMap<string, number> | null,
    periodMs: number,
    windowEnd: number,
  ): void {
    const at = Date.now();
    if (!admission.admitted) {
      if (admission.counters.length > 0) s.counters = admission.counters;
      s.quietUntil = at + this.periodMs;
      return;
    }
    this.ctx.tollgate.emitThresholds(subject, admission.thresholds);
    if (admission.counters.length > 0) s.counters = admission.counters;
    const limit = this.ctx.rateLimitHeaders ? tightestRequestsLimit(admission.counters) : null;
    const lease: Lease = {
      id,
      granted: units,
      periodMs,
      used: 0,
      held,
      taken: held === null ? null : new Map([...held.keys()].map((meter) => [meter, 0])),
      until: windowEnd,
      startedAt: at,
      windowEnd,
      lastAt: at,
      limit,
      policy: limit === null ? null : rateLimitPolicyValue(limit),
      limitName: limit === null ? '' : policyName(limit),
      timer: null,
      closed: false,
      calls: 0,
      settled: false,
      call: { end: () => this.callEnded(subject, s, lease) },
      holder: s,
    };
    if (at >= windowEnd || this.closing) {
      // Granted too late to be of use: the window it was reserved in is over.
      this.close(subject, lease);
    } else if (s.current === null) {
      this.start(subject, lease, at);
      s.current = lease;
    } else if (at >= s.current.until) {
      // The current one ran past its period waiting for this one.
      s.next = lease;
      this.promote(subject, s, at);
    } else {
      s.next = lease;
    }
  }

  private expire(subject: ResolvedSubject, lease: Lease): void {
    lease.timer = null;
    const s = this.subjects.get(subject);
    if (s === undefined || s.current !== lease) {
      this.close(subject, lease);
      return;
    }
    const now = Date.now();
    if (!this.over(s, lease, now)) {
      // Its spare is on the way: look again in one period (the grant also takes over at once).
      lease.timer = setTimeout(() => this.expire(subject, lease), lease.periodMs);
      lease.timer.unref();
      return;
    }
    // The spare takes over; with no traffic it runs out unused, and no new one is asked for.
    this.promote(subject, s, now);
    if (idle(s)) this.subjects.delete(subject);
  }

  /** One of `lease`'s calls with an estimate ended (or never ran): the last one of a closed lease settles it. */
  private callEnded(subject: ResolvedSubject, s: SubjectLeases, lease: Lease): void {
    s.running -= 1;
    lease.calls -= 1;
    if (lease.calls === 0 && lease.closed) void this.settle(subject, lease);
  }

  /**
   * Ends `lease`'s admissions. It is settled now, or, while calls it admitted with an estimate still run (their
   * estimates are part of its reservation), when the last of them ends (see settle); null unless its own op was
   * written now, whose promise is returned.
   */
  private close(subject: ResolvedSubject, lease: Lease): Promise<void> | null {
    if (lease.closed) return null;
    lease.closed = true;
    if (lease.timer !== null) clearTimeout(lease.timer);
    lease.timer = null;
    if (lease.calls > 0 && !this.closing) {
      this.waiting.set(lease, subject);
      if (lease.held !== null) lease.holder.waitingHeld += 1;
      // Settled by then whatever its calls do: each has had its estimate held as long as its own reservation
      // would (reservationTtlMs), and the store still holds the lease (its used units would go uncounted after).
      const wait = Math.max(0, lease.lastAt + this.callTtlMs - Date.now());
      lease.timer = setTimeout(() => void this.settle(subject, lease), wait);
      lease.timer.unref();
      return null;
    }
    return this.settle(subject, lease);
  }

  /**
   * Counts the lease's used units and releases the rest of its reservation, in one op: the subject's next usage
   * write (one op for both), unless that could land after the window the units were reserved in; then its own op,
   * at the time of its last use, whose promise is returned (null otherwise). Either is replayed like any
   * settlement if the store is down.
   */
  private settle(subject: ResolvedSubject, lease: Lease): Promise<void> | null {
    if (lease.settled) return null;
    lease.settled = true;
    if (lease.timer !== null) clearTimeout(lease.timer);
    lease.timer = null;
    if (this.waiting.delete(lease) && lease.held !== null) lease.holder.waitingHeld -= 1;
    if (!this.closing && lease.windowEnd - Date.now() > this.foldBeforeMs) {
      this.ctx.usage.of(subject).closeLease(lease.id, lease.used);
      return null;
    }
    const delivered = this.ctx.usage.delivered;
    const records: UsageRecord[] =
      lease.used > 0 && !delivered ? [{ meter: 'requests', amount: lease.used }] : [];
    return this.ctx.tollgate.writeQuietly(
      storeOp(subject, leaseCloseIdOf(lease.id), {
        settles: lease.id,
        records,
        // Delivered: each response's ledger unit went with its own usage; the counters learn the lease's units now.
        split: delivered && lease.used > 0 ? { countersOnly: lease.used } : undefined,
        at: lease.lastAt,
      }),
    );
  }

  private release(subject: ResolvedSubject, id: string): void {
    this.ctx.tollgate.writeInBackground(storeOp(subject, leaseCloseIdOf(id), { settles: id }));
  }

  private dropIdle(): void {
    for (const [subject, s] of this.subjects) {
      if (idle(s)) this.subjects.delete(subject);
    }
  }

  /**
   * Closes every open lease and spare (each counted by its subject's next usage write, or by its own op near the
   * end of its window); busy subjects get new ones as their traffic goes on. For `flushUsage()`.
   */
  closeOpen(): Array<Promise<void>> {
    const writes: Array<Promise<void>> = [];
    for (const [subject, s] of this.subjects) {
      for (const lease of [s.current, s.next]) {
        const write = lease === null ? null : this.close(subject, lease);
        if (write !== null) writes.push(write);
      }
      s.current = s.next = null;
    }
    return writes;
  }

  /**
   * Counts and releases every lease now (before the usage batcher's last write and the store's last replay), those
   * whose calls still run too: the process is stopping, and its calls with it.
   */
  async closeAll(): Promise<void> {
    this.closing = true;
    // A grant that lands now is closed at once (see request()).
    await Promise.allSettled([...this.asking]);
    const writes = this.closeOpen();
    for (const [lease, subject] of [...this.waiting]) {
      const write = this.settle(subject, lease);
      if (write !== null) writes.push(write);
    }
    await Promise.all(writes);
  }
}

/**
 * Nothing of `s` is open, asked for, waiting or running: it may be dropped. Not before: a state made afresh would
 * count no waiting lease (so more could hold estimates than MAX_WAITING_HELD) and no running call.
 */
function idle(s: SubjectLeases): boolean {
  return s.current === null && s.next === null && !s.requesting && s.waitingHeld === 0 && s.running === 0;
}

function subjectLeases(counters: readonly CounterState[], now: number): SubjectLeases {
  const s: SubjectLeases = {
    current: null,
    next: null,
    requesting: false,
    count: 0,
    since: now,
    rate: 0,
    running: 0,
    overlapAt: -Infinity,
    call: { end: () => void (s.running -= 1) },
    waitingHeld: 0,
    estimates: new EstimateRates(),
    counters,
    quietUntil: 0,
    waiters: null,
  };
  return s;
}
