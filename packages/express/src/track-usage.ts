// trackUsage(): the Express (4 and 5) glue over the core request engine; every rule lives in @tollgate/core.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  callbackFailure,
  countBodyBytes,
  RequestMeter,
  type HttpBinding,
  type MeterOutcome,
  type RequestUsage,
  type Tollgate,
  type TrackUsageOptions,
} from '@tollgate/http';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Records usage for this request (`req.usage.record('input_tokens', 1200, { model })`). Set by trackUsage(). */
      usage: RequestUsage;
    }
  }
}

/** trackUsage() options: see the README for every option and its default. */
export type ExpressTrackUsageOptions = TrackUsageOptions<Request>;

export interface TrackUsageMiddleware extends RequestHandler {
  /** The programmatic API (`consume`, `enforceQuota`, `record`, `check`, `status`, `health`) on the same store and buffer. */
  readonly tollgate: Tollgate;
  /**
   * Counts and releases admission leases, writes every pending usage sum and stops background replay after one last
   * attempt; resolves once those writes were answered or buffered. Call it again for requests served after it. Does
   * not close the store.
   */
  close(): Promise<void>;
  /**
   * Writes everything counted so far now instead of at the end of its batching window (`usageBatchMs`, or 10 x that
   * for request statistics alone): closes the open admission leases and writes every subject's pending usage.
   * Resolves once the store answered each write, or it was kept in the fail-open buffer.
   */
  flushUsage(): Promise<void>;
}

const binding: HttpBinding<Response> = {
  setHeader: (res, name, value) => {
    res.setHeader(name, value);
  },
};

/** Meters every `/api` request (by default) and enforces the config's quotas. */
export function trackUsage(options: ExpressTrackUsageOptions): TrackUsageMiddleware {
  const meter = new RequestMeter<Request, Response>(options, binding, 'trackUsage() options');
  const unmetered = meter.unmetered;
  const proceed = (outcome: MeterOutcome, req: Request, res: Response, next: NextFunction): void => {
    switch (outcome.kind) {
      case 'proceed':
        req.usage = outcome.usage;
        next();
        return;
      case 'respond':
        res.statusCode = outcome.status;
        res.end(outcome.body);
        return;
      case 'pass':
        if ((req as Partial<Request>).usage === undefined) req.usage = unmetered;
        next();
        return;
    }
  };

  // Each Express app has its own response prototype: count body bytes there, once, not on every response.
  let counted: object | null = null;

  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    const proto = Object.getPrototypeOf(res) as object;
    if (proto !== counted) {
      countBodyBytes(proto);
      counted = proto;
    }
    let metered: boolean;
    try {
      metered = meter.begin(req, res, req, res, req.originalUrl ?? req.url, (err, outcome) => {
        if (err !== null || outcome === undefined) next(err);
        else proceed(outcome, req, res, next);
      });
    } catch (err) {
      next(callbackFailure(err, 'identify(), skip() or reserve()'));
      return;
    }
    if (metered) return;
    if ((req as Partial<Request>).usage === undefined) req.usage = unmetered;
    next();
  };

  return Object.assign(middleware, {
    tollgate: meter.tollgate,
    close: () => meter.close(),
    flushUsage: () => meter.flushUsage(),
  });
}
