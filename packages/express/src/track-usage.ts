// trackUsage(): the Express (4 and 5) glue over the core request engine; every rule lives in @tollgate/core.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  RequestMeter,
  type HttpBinding,
  type MeterOutcome,
  type RequestUsage,
  type Tollgate,
  type TrackUsageOptions,
} from '@tollgate/core';

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
  /** Stops background replay after one last attempt. Does not close the store. */
  close(): Promise<void>;
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
  const unexpected = (err: unknown): void => meter.tollgate.callbackFailed('next', err);

  const proceed = (outcome: MeterOutcome, req: Request, res: Response, next: NextFunction): void => {
    switch (outcome.kind) {
      case 'proceed':
        req.usage = outcome;
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
      case 'stop':
        return;
    }
  };

  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    let pending: Promise<MeterOutcome> | null;
    try {
      pending = meter.begin(req, res, req, res, req.originalUrl ?? req.url);
    } catch (err) {
      next(err);
      return;
    }
    if (pending === null) {
      if ((req as Partial<Request>).usage === undefined) req.usage = unmetered;
      next();
      return;
    }
    pending.then((outcome) => proceed(outcome, req, res, next), next).catch(unexpected);
  };

  return Object.assign(middleware, {
    tollgate: meter.tollgate,
    close: () => meter.close(),
  });
}
