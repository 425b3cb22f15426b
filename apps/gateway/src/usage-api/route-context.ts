// What every usage-API route module is given, and the wrapper that hands an async handler's rejection to the
// error middleware (Express 4 and 5 alike).
import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import type { QuotaEngine, TollgateConfig } from '@tollgate/core';
import type { SqlClient } from '@tollgate/ledger';
import type { Caller } from './identity';
import type { UsageSchemas } from './validation';

export interface UsageRouteContext {
  engine: QuotaEngine;
  sql: SqlClient;
  config: TollgateConfig;
  schemas: UsageSchemas;
  now: () => number;
  /** The verified caller; rejects with a 401 HttpProblem. */
  caller(req: Request): Promise<Caller>;
  /** The JSON body parser (bounded). */
  json: RequestHandler;
}

/** Registers one route (or a small group) on the usage API's router. */
export type UsageRoute = (router: Router, ctx: UsageRouteContext) => void;

export function route(fn: (req: Request, res: Response) => Promise<void>) {
  return (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).catch(next);
  };
}
