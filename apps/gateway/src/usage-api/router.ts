// The usage API (SPEC §8): the dashboard, then one module per route in routes/; who may read what is identity.ts.
import express, { type Request, type Router } from 'express';
import path from 'node:path';
import type { QuotaEngine } from '@tollgate/core';
import type { SqlClient } from '@tollgate/ledger';
import { dashboardRoutes } from './dashboard';
import { jsonBody, oncePerRequest } from './json-body';
import type { Caller } from './identity';
import type { UsageRoute, UsageRouteContext } from './route-context';
import { adminQuotasRoute } from './routes/admin-quotas';
import { adminTopRoute } from './routes/admin-top';
import { checkQuotaRoute } from './routes/check-quota';
import { eventsRoute } from './routes/events';
import { exportCsvRoute } from './routes/export-csv';
import { quotaRoute } from './routes/quota';
import { statsRoute } from './routes/stats';
import { timeseriesRoute } from './routes/timeseries';
import { schemas } from './validation';

export interface UsageApiOptions {
  engine: QuotaEngine;
  sql: SqlClient;
  /** Verifies the request's JWT; throws an HttpProblem (401) when it is missing or bad. */
  authenticate: (req: Request) => Caller | Promise<Caller>;
  /** Largest accepted JSON body. Defaults to `1mb`. */
  bodyLimit?: string;
  /** Folder holding dashboard.html/.css/.js. Defaults to the package's `public/`. */
  publicDir?: string;
  now?: () => number;
}

const ROUTES: UsageRoute[] = [
  quotaRoute,
  statsRoute,
  timeseriesRoute,
  checkQuotaRoute,
  exportCsvRoute,
  eventsRoute,
  adminTopRoute,
  adminQuotasRoute,
];

export function createUsageApi(options: UsageApiOptions): Router {
  const caller = oncePerRequest(options.authenticate);
  const ctx: UsageRouteContext = {
    engine: options.engine,
    sql: options.sql,
    config: options.engine.config,
    schemas: schemas(options.engine.config),
    now: options.now ?? Date.now,
    caller,
    json: jsonBody(caller, options.bodyLimit ?? '1mb'),
  };
  const router = express.Router();
  router.use(dashboardRoutes(options.publicDir ?? path.resolve(__dirname, '..', '..', 'public')));
  for (const register of ROUTES) register(router, ctx);
  return router;
}
