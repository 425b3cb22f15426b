// The framework-agnostic request engine: picks, identifies and admits a request, answers rejections, and starts settlement.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Admission } from '../engine';
import { ErrorCode } from '../errors';
import type { Identity } from '../subject';
import { isStoreFailure, StoreTimeoutError } from './deadline';
import { identityFromHeaders } from './identity';
import { safeLog } from './logger';
import { watchExchange } from './node-io';
import { resolveTrackUsageOptions, type ResolvedTrackUsageOptions, type TrackUsageOptions } from './options';
import { pathMatcher, pathOf } from './path-filter';
import {
  PROBLEM_CONTENT_TYPE,
  quotaRejection,
  STORE_UNAVAILABLE_BODY,
  STORE_UNAVAILABLE_PROBLEM,
  unauthorizedProblem,
} from './problem';
import {
  RATELIMIT_HEADER,
  RATELIMIT_POLICY_HEADER,
  rateLimitPolicyValue,
  rateLimitValue,
  tightestRequestsLimit,
} from './rate-limit-headers';
import { UnmeteredUsage, type RequestUsage } from './request-usage';
import { CLOSED_EARLY, DONE, RequestTicket, RUNNING } from './ticket';
import { Tollgate } from './tollgate';

/** How the engine talks to a framework's response object (headers go through the framework, so it keeps track). */
export interface HttpBinding<Res> {
  setHeader(res: Res, name: string, value: string): void;
}

/** Send this answer instead of running the handler (headers, including Content-Type, are already set). */
export interface RespondOutcome {
  kind: 'respond';
  status: number;
  body: string;
}

/** Not metered: run the handler with `unmetered` usage. */
export const PASS = { kind: 'pass' } as const;
/** The client went away during admission: do nothing more. */
export const STOP = { kind: 'stop' } as const;

/** What `begin` decides: run the handler with `req.usage = ticket`, answer, skip metering, or stop. */
export type MeterOutcome = RequestTicket | RespondOutcome | typeof PASS | typeof STOP;

export const DEGRADED_HEADER = 'Tollgate-Degraded';
const DEGRADED_VALUE = 'store-unavailable';
const REQUEST_ONLY: Record<string, number> = { requests: 1 };
const NOTHING: Record<string, number> = {};
const kSeen = Symbol.for('tollgate.metered');

type SeenRequest = IncomingMessage & { [kSeen]?: true };

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null | undefined)?.then === 'function';
}

export class RequestMeter<Req, Res> {
  readonly tollgate: Tollgate;
  readonly options: ResolvedTrackUsageOptions<Req>;
  /** `req.usage` of requests that are not metered. */
  readonly unmetered: RequestUsage;
  private readonly matches: (url: string) => boolean;
  private readonly staticReserve: Record<string, number> | null;

  constructor(
    options: TrackUsageOptions<Req>,
    private readonly binding: HttpBinding<Res>,
    source = 'trackUsage() options',
  ) {
    this.options = resolveTrackUsageOptions(options, source);
    this.tollgate = new Tollgate(this.options);
    this.unmetered = new UnmeteredUsage(this.options.config);
    this.matches = pathMatcher(this.options.paths);
    const reserve = this.options.reserve;
    this.staticReserve =
      reserve === undefined
        ? REQUEST_ONLY
        : typeof reserve === 'function'
          ? null
          : { ...reserve, requests: 1 };
  }

  /**
   * Starts metering one request. Returns null (synchronously) when the request is not metered, else
   * the outcome once admission is decided. User callbacks (`identify`, `skip`) that throw propagate to
   * the framework's error handling.
   */
  begin(
    req: Req,
    res: Res,
    raw: IncomingMessage,
    rawRes: ServerResponse,
    url: string,
  ): Promise<MeterOutcome> | null {
    const seen = raw as SeenRequest;
    if (seen[kSeen] === true) {
      this.tollgate.warnOnce.warn(
        'double-mount',
        { code: ErrorCode.DoubleCount, path: pathOf(url) },
        'Tollgate: the middleware ran twice for one request (mounted twice, or on two routers); it is metered once',
      );
      return null;
    }
    if (!this.matches(url) || rawRes.destroyed) return null;
    if (this.options.skip !== undefined && this.options.skip(req) === true) return null;
    seen[kSeen] = true;
    const identify = this.options.identify;
    if (identify !== undefined) {
      const found = identify(req);
      if (isPromise(found)) {
        return found.then((id) => this.withIdentity(id, req, res, raw, rawRes, url) ?? PASS);
      }
      return this.withIdentity(found, req, res, raw, rawRes, url);
    }
    if (!this.options.trustGatewayHeaders) return this.noIdentity(res, raw, url);
    const h = identityFromHeaders(
      raw.headers,
      this.options.signingSecret,
      this.options.signatureMaxAgeSeconds,
    );
    if (h.kind === 'none') return this.noIdentity(res, raw, url);
    if (h.kind === 'invalid') {
      return this.badIdentity(`The identity headers' signature is ${h.reason}.`, res, raw, url);
    }
    return this.admit(h.tenantId, h.userId, h.plan, req, res, raw, rawRes);
  }

  private withIdentity(
    id: Identity | null | undefined,
    req: Req,
    res: Res,
    raw: IncomingMessage,
    rawRes: ServerResponse,
    url: string,
  ): Promise<MeterOutcome> | null {
    if (!id || (!id.tenantId && !id.userId)) return this.noIdentity(res, raw, url);
    return this.admit(id.tenantId ?? null, id.userId ?? null, id.plan ?? null, req, res, raw, rawRes);
  }

  private noIdentity(res: Res, raw: IncomingMessage, url: string): Promise<MeterOutcome> | null {
    if (!this.options.requireIdentity) return null;
    return this.badIdentity('This API needs an identity (the gateway identity headers).', res, raw, url);
  }

  private badIdentity(
    detail: string,
    res: Res,
    raw: IncomingMessage,
    url: string,
  ): Promise<MeterOutcome> | null {
    const problem = unauthorizedProblem(detail);
    const shadow = this.tollgate.shadow;
    this.tollgate.emitRejected({
      reason: 'identity',
      status: 401,
      shadow,
      tenantId: null,
      userId: null,
      problem,
      method: raw.method,
      path: pathOf(url),
    });
    safeLog(
      this.options.logger,
      shadow ? 'info' : 'debug',
      { code: ErrorCode.BadIdentitySignature, detail, shadow, path: pathOf(url) },
      shadow ? 'Tollgate (shadow): would reject a request: no valid identity' : 'Tollgate: no valid identity',
    );
    if (shadow) return null;
    return Promise.resolve(this.respond(res, 401, JSON.stringify(problem)));
  }

  private respond(res: Res, status: number, body: string): RespondOutcome {
    this.binding.setHeader(res, 'Content-Type', PROBLEM_CONTENT_TYPE);
    return { kind: 'respond', status, body };
  }

  private admit(
    tenantId: string | null,
    userId: string | null,
    plan: string | null,
    req: Req,
    res: Res,
    raw: IncomingMessage,
    rawRes: ServerResponse,
  ): Promise<MeterOutcome> | null {
    let subject;
    try {
      subject = this.tollgate.subjectOf(tenantId, userId, plan);
    } catch (err) {
      return this.badIdentity(
        `The identity is not usable: ${(err as Error).message}.`,
        res,
        raw,
        raw.url ?? '',
      );
    }
    const ticket = new RequestTicket(this.tollgate, subject, rawRes, raw.method === 'HEAD');
    watchExchange(raw, rawRes, ticket);
    return this.decide(ticket, req, res, raw);
  }

  private reserveFor(req: Req): Record<string, number> {
    if (this.staticReserve !== null) return this.staticReserve;
    const extra = (this.options.reserve as (req: Req) => Record<string, number> | undefined)(req);
    return extra === undefined ? REQUEST_ONLY : { ...extra, requests: 1 };
  }

  private async decide(
    ticket: RequestTicket,
    req: Req,
    res: Res,
    raw: IncomingMessage,
  ): Promise<MeterOutcome> {
    const tollgate = this.tollgate;
    let admission: Admission;
    try {
      const reserve = this.reserveFor(req);
      admission = await tollgate.call(() =>
        tollgate.engine.consume(ticket.subject, NOTHING, {
          opId: ticket.opId,
          reservationId: ticket.opId,
          reserve,
        }),
      );
    } catch (err) {
      if (!isStoreFailure(err)) {
        ticket.state = DONE;
        throw err;
      }
      return this.storeDown(ticket, res, raw, err);
    }
    if (ticket.state === CLOSED_EARLY) {
      if (admission.admitted) ticket.release(ticket.opId);
      return STOP;
    }
    // One clock reading, so RateLimit's `t` and Retry-After agree to the second.
    const now = Date.now();
    if (this.options.rateLimitHeaders) this.rateLimitHeaders(res, admission.counters, now);
    if (admission.admitted) {
      tollgate.emitThresholds(ticket.subject, admission.thresholds);
      ticket.state = RUNNING;
      return ticket;
    }
    const rejection = quotaRejection(admission.violation, now);
    const shadow = tollgate.shadow;
    tollgate.emitRejected({
      reason: 'quota',
      status: rejection.status,
      shadow,
      tenantId: ticket.subject.tenantId,
      userId: ticket.subject.userId,
      violation: admission.violation,
      problem: rejection.problem,
      method: raw.method,
      path: pathOf(raw.url ?? ''),
    });
    if (shadow) {
      safeLog(
        this.options.logger,
        'info',
        { code: ErrorCode.QuotaExceeded, shadow: true, ...rejection.problem },
        'Tollgate (shadow): would reject a request over quota',
      );
      ticket.state = RUNNING;
      return ticket;
    }
    // Rejected: the store counted it in `rejected` (same op); nothing else is counted.
    ticket.state = DONE;
    if (rejection.retryAfter !== null)
      this.binding.setHeader(res, 'Retry-After', String(rejection.retryAfter));
    return this.respond(res, rejection.status, JSON.stringify(rejection.problem));
  }

  private storeDown(ticket: RequestTicket, res: Res, raw: IncomingMessage, err: unknown): MeterOutcome {
    const tollgate = this.tollgate;
    ticket.degraded = true;
    if (ticket.state === CLOSED_EARLY) {
      if (err instanceof StoreTimeoutError) ticket.release(ticket.opId);
      return STOP;
    }
    this.binding.setHeader(res, DEGRADED_HEADER, DEGRADED_VALUE);
    if (this.options.failMode === 'open' || tollgate.shadow) {
      // Admitted unmetered-for-now: the settlement (same reservation id) is buffered until the store is back.
      ticket.state = RUNNING;
      return ticket;
    }
    ticket.state = DONE;
    // A timed-out admission may still land in the store: release its reservation when it answers again.
    if (err instanceof StoreTimeoutError) ticket.release(ticket.opId);
    tollgate.emitRejected({
      reason: 'store',
      status: 503,
      shadow: false,
      tenantId: ticket.subject.tenantId,
      userId: ticket.subject.userId,
      problem: STORE_UNAVAILABLE_PROBLEM,
      method: raw.method,
      path: pathOf(raw.url ?? ''),
    });
    return this.respond(res, 503, STORE_UNAVAILABLE_BODY);
  }

  private rateLimitHeaders(res: Res, counters: Admission['counters'], now: number): void {
    const c = tightestRequestsLimit(counters);
    if (c === null) return;
    this.binding.setHeader(res, RATELIMIT_POLICY_HEADER, rateLimitPolicyValue(c));
    this.binding.setHeader(res, RATELIMIT_HEADER, rateLimitValue(c, now));
  }

  /** Stops background work (after one last replay of buffered usage). Does not close the store. */
  close(): Promise<void> {
    return this.tollgate.close();
  }
}
