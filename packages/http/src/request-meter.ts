// The framework-agnostic request engine: picks and identifies a request, then hands it to admission and settlement.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, type Identity, type ResolvedSubject } from '@tollgate/core';
import { checkAmounts } from '@tollgate/core/internal';
import { Admissions } from './admission';
import type { HttpBinding } from './http-binding';
import { identityFailureDetail, identityFromHeaders } from './identity';
import { safeLog } from './logger';
import { isWatched, watchExchange } from './node-io';
import { resolveTrackUsageOptions, type ResolvedTrackUsageOptions, type TrackUsageOptions } from './options';
import { pathMatcher, pathOf } from './path-filter';
import { PROBLEM_CONTENT_TYPE, unauthorizedProblem } from './problem';
import { UnmeteredUsage, type RequestUsage } from './request-usage';
import { UsageBatcher } from './settlement';
import { PASS, RequestTicket, type MeterDone, type TicketContext } from './ticket';
import { Tollgate } from './tollgate';

/**
 * What a user callback threw or rejected with, as an error the framework will not take for "go on": Express and
 * Fastify read `next(undefined)` / `next(null)` as success, which would run the handler unidentified.
 */
export function callbackFailure(err: unknown, callback: string): unknown {
  return err === null || err === undefined
    ? new Error(`Tollgate: ${callback} threw or rejected with ${String(err)}`)
    : err;
}

/** Why `signingSecret` checks nothing with these options, or null when it is used (or not set). */
function whySecretIsUnused<Req>(options: ResolvedTrackUsageOptions<Req>): string | null {
  if (options.signingSecret === undefined) return null;
  if (options.identify !== undefined)
    return 'identify() replaces the gateway identity headers it would check';
  if (!options.trustGatewayHeaders) return 'trustGatewayHeaders is false, so no identity headers are read';
  return null;
}

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null | undefined)?.then === 'function';
}

/**
 * One instance per `trackUsage()` / plugin registration. The framework glue calls `begin` for every
 * request; everything else (identity, admission, headers, problem bodies, settlement) happens here.
 */
export class RequestMeter<Req, Res> {
  readonly tollgate: Tollgate;
  readonly options: ResolvedTrackUsageOptions<Req>;
  /** `req.usage` of requests that are not metered. */
  readonly unmetered: RequestUsage;
  private readonly matches: (url: string) => boolean;
  private readonly usage: UsageBatcher;
  private readonly admissions: Admissions<Res>;
  private readonly ticketContext: TicketContext<Res>;

  constructor(
    options: TrackUsageOptions<Req>,
    private readonly binding: HttpBinding<Res>,
    source = 'trackUsage() options',
  ) {
    this.options = resolveTrackUsageOptions(options, source);
    this.tollgate = new Tollgate(this.options);
    this.unmetered = new UnmeteredUsage(this.options.config);
    this.matches = pathMatcher(this.options.paths);
    const unusedSecret = whySecretIsUnused(this.options);
    // A secret that checks nothing looks like protection: say so once, at startup.
    if (unusedSecret !== null) {
      safeLog(
        this.options.logger,
        'warn',
        { code: ErrorCode.Config, option: 'signingSecret' },
        `Tollgate: signingSecret is set but not used: ${unusedSecret}`,
      );
    }
    this.usage = new UsageBatcher(this.tollgate, this.options.usageBatchMs);
    this.ticketContext = { tollgate: this.tollgate, usage: this.usage, binding };
    this.admissions = new Admissions<Res>({
      tollgate: this.tollgate,
      usage: this.usage,
      binding,
      rateLimitHeaders: this.options.rateLimitHeaders,
      leaseMs: this.options.leaseMs,
    });
  }

  /**
   * Starts metering one request. Returns false when it is not metered (the glue goes on at once with
   * `unmetered`); true when `done` will be called with the decision. `identify`/`skip` errors thrown
   * synchronously propagate to the caller; asynchronous ones reach `done`. A client that leaves while an async
   * `identify` runs gets neither (nothing is counted, no handler runs), like one that leaves during admission.
   */
  begin(
    req: Req,
    res: Res,
    raw: IncomingMessage,
    rawRes: ServerResponse,
    url: string,
    done: MeterDone,
  ): boolean {
    if (isWatched(rawRes)) {
      this.tollgate.warnOnce.warn(
        'double-mount',
        { code: ErrorCode.DoubleCount, path: pathOf(url) },
        'Tollgate: the middleware ran twice for one request (mounted twice, or on two routers); it is metered once',
      );
      return false;
    }
    if (!this.matches(url) || rawRes.destroyed) return false;
    if (this.options.skip !== undefined && this.options.skip(req) === true) return false;
    const identify = this.options.identify;
    if (identify !== undefined) {
      const found = identify(req);
      if (!isPromise(found)) return this.identified(found, req, res, raw, rawRes, url, done);
      found
        .then(
          (id) => {
            // The client left while identify() ran: nothing is counted and the handler does not run, as for a client
            // that leaves during admission (the close listener only comes with admission, so look now).
            if (rawRes.destroyed) return;
            let metered: boolean;
            try {
              metered = this.identified(id, req, res, raw, rawRes, url, done);
            } catch (err) {
              // A throwing `reserve` estimate: an error for this request, not an unhandled rejection.
              done(callbackFailure(err, 'reserve()'));
              return;
            }
            if (!metered) done(null, PASS);
          },
          (err: unknown) => done(callbackFailure(err, 'identify()')),
        )
        // The framework runs the handler inside `done`: whatever it throws must not become an unhandled rejection.
        .catch((err: unknown) => this.tollgate.callbackFailed('next', err));
      return true;
    }
    if (!this.options.trustGatewayHeaders) return this.noIdentity(res, raw, url, done);
    const found = identityFromHeaders(
      raw.headers,
      { method: raw.method ?? 'GET', path: url },
      this.options.signingSecret,
      this.options.signatureMaxAgeSeconds,
    );
    if (found.kind === 'none') return this.noIdentity(res, raw, url, done);
    if (found.kind === 'invalid') {
      const detail = identityFailureDetail(found.reason, this.options.signatureMaxAgeSeconds, found.header);
      return this.badIdentity(detail, res, raw, url, done);
    }
    const { tenantId, userId, plan, apiKeyId } = found;
    return this.admit({ tenantId, userId, plan, apiKeyId }, req, res, raw, rawRes, url, done);
  }

  private identified(
    id: Identity | null | undefined,
    req: Req,
    res: Res,
    raw: IncomingMessage,
    rawRes: ServerResponse,
    url: string,
    done: MeterDone,
  ): boolean {
    if (!id || (!id.tenantId && !id.userId)) return this.noIdentity(res, raw, url, done);
    return this.admit(
      {
        tenantId: id.tenantId ?? null,
        userId: id.userId ?? null,
        plan: id.plan ?? null,
        apiKeyId: id.apiKeyId ?? null,
      },
      req,
      res,
      raw,
      rawRes,
      url,
      done,
    );
  }

  private noIdentity(res: Res, raw: IncomingMessage, url: string, done: MeterDone): boolean {
    if (!this.options.requireIdentity) return false;
    return this.badIdentity(
      'This API needs an identity (the gateway identity headers).',
      res,
      raw,
      url,
      done,
    );
  }

  private badIdentity(detail: string, res: Res, raw: IncomingMessage, url: string, done: MeterDone): boolean {
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
      shadow
        ? 'Tollgate (shadow): would reject a request without a valid identity'
        : 'Tollgate: no valid identity',
    );
    if (shadow) return false;
    this.binding.setHeader(res, 'Content-Type', PROBLEM_CONTENT_TYPE);
    done(null, { kind: 'respond', status: 401, body: JSON.stringify(problem) });
    return true;
  }

  private admit(
    id: { tenantId: string | null; userId: string | null; plan: string | null; apiKeyId: string | null },
    req: Req,
    res: Res,
    raw: IncomingMessage,
    rawRes: ServerResponse,
    url: string,
    done: MeterDone,
  ): boolean {
    let subject: ResolvedSubject;
    try {
      subject = this.tollgate.subjectOf(id.tenantId, id.userId, id.plan, id.apiKeyId);
    } catch (err) {
      return this.badIdentity(`The identity is not usable: ${(err as Error).message}.`, res, raw, url, done);
    }
    const reserve = this.options.reserve;
    // A request with its own estimate joins its subject's group too: the group's op holds one reservation per
    // request (each settled by that request's own usage).
    const estimate =
      reserve === undefined ? null : ((typeof reserve === 'function' ? reserve(req) : reserve) ?? null);
    // An estimate the store would refuse is this request's error, not its whole admission group's.
    if (estimate !== null) checkAmounts(this.tollgate.config, estimate);
    const ticket = new RequestTicket<Res>(
      this.ticketContext,
      subject,
      res,
      rawRes,
      raw.method,
      url,
      estimate,
      done,
    );
    watchExchange(raw, rawRes, ticket);
    this.admissions.enqueue(ticket);
    return true;
  }

  /**
   * Writes everything counted so far now: closes the open admission leases (their requests join the sums) and
   * writes every subject's pending sum (see UsageBatcher). Resolves once each write was answered by the store or,
   * when it did not answer in time, kept in the fail-open buffer for replay.
   */
  flushUsage(): Promise<void> {
    // Only this flush's writes are waited for: other requests' writes may keep coming under steady traffic.
    const leaseWrites = this.admissions.closeOpenLeases();
    return Promise.all([...leaseWrites, this.usage.writeAll()]).then(() => undefined);
  }

  /** Writes pending usage, then stops background work after one last replay. Does not close the store. */
  async close(): Promise<void> {
    await this.admissions.close();
    await this.usage.close();
    return this.tollgate.close();
  }
}
