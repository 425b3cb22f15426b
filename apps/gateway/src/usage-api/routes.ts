// The usage API (SPEC §8): quota, stats, timeseries, check-quota, CSV export, events, admin top and overrides.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import path from 'node:path';
import {
  isLimitValue,
  parseLimit,
  picoToUsd,
  periodWindow,
  type Identity,
  type QuotaEngine,
  type QuotaStatus,
} from '@tollgate/core';
import {
  exportCsv,
  findApiKey,
  listEvents,
  saveOverride,
  topConsumers,
  usageStats,
  usageTimeseries,
  type SqlClient,
  type UsageFilter,
} from '@tollgate/ledger';
import { isAdmin, resolveTarget, type Caller, type UsageTarget } from './authz';
import { dashboardRoutes } from './dashboard';
import { HttpProblem, forbidden, invalid, sendProblem } from '../problem';
import { parse, schemas } from './validation';

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

const DAY_MS = 86_400_000;

function filterFor(target: UsageTarget): UsageFilter {
  if (target.kind === 'tenant') return { tenantId: target.tenantId };
  // A user without a tenant is a subject of its own: a tenantless token never reads a tenant's rows of the same id.
  return target.acrossTenants
    ? { userId: target.userId }
    : { userId: target.userId, tenantId: target.tenantId };
}

/** Wraps an async handler so a rejection reaches the error middleware (Express 4 and 5 alike). */
function route(fn: (req: Request, res: Response) => Promise<void>) {
  return (req: Request, res: Response, next: NextFunction) => {
    fn(req, res).catch(next);
  };
}

function warningsFrom(status: QuotaStatus, warnAt: number[]): Array<Record<string, unknown>> {
  const floor = warnAt.length > 0 ? Math.min(...warnAt) : 80;
  const out: Array<Record<string, unknown>> = [];
  for (const [scope, group] of [
    ['subject', status.quotas],
    ['user', status.userQuotas],
  ] as const) {
    for (const [meter, periods] of Object.entries(group)) {
      for (const [period, line] of Object.entries(periods)) {
        if (!line || line.percentage < floor) continue;
        const what = scope === 'user' ? 'your per-user cap' : 'the limit';
        out.push({
          scope,
          meter,
          period,
          percentage: line.percentage,
          limit: line.limit,
          used: line.used,
          resetsAt: line.resetsAt,
          message: `${meter}: ${line.percentage}% of ${what} for this ${period}${line.percentage >= 100 ? ' (exhausted)' : ''}`,
        });
      }
    }
  }
  return out.sort((a, b) => (b.percentage as number) - (a.percentage as number));
}

export function createUsageApi(options: UsageApiOptions): Router {
  const { engine, sql } = options;
  const config = engine.config;
  const s = schemas(config);
  const now = options.now ?? Date.now;
  const publicDir = options.publicDir ?? path.resolve(__dirname, '..', '..', 'public');
  const router = express.Router();
  const json = express.json({ limit: options.bodyLimit ?? '1mb' });

  const caller = async (req: Request): Promise<Caller> => options.authenticate(req);
  const requireAdmin = (c: Caller) => {
    if (!isAdmin(c)) throw forbidden('this endpoint needs role admin');
  };
  /**
   * The rows a stats/timeseries/events/export request reads: its subject (resolveTarget), narrowed to one API key
   * with `keyId`. A non-admin may name only a key of its own user in its own tenant (403 otherwise, also for a key
   * that does not exist: ids of others' keys are not confirmed); an admin naming only a key reads that key's rows.
   */
  const usageTarget = async (
    c: Caller,
    q: { scope?: 'user' | 'tenant'; tenantId?: string; userId?: string; keyId?: string },
  ): Promise<{ target: UsageTarget; filter: UsageFilter }> => {
    if (q.keyId === undefined) {
      const target = resolveTarget(c, q);
      return { target, filter: filterFor(target) };
    }
    const key = await findApiKey(sql, q.keyId);
    if (!isAdmin(c) && (key === null || key.userId !== c.userId || key.tenantId !== c.tenantId))
      throw forbidden('you may only read the usage of your own API keys');
    if (key === null) throw new HttpProblem(404, 'Not Found', `no API key ${q.keyId}`);
    if (isAdmin(c) && q.scope === undefined && q.tenantId === undefined && q.userId === undefined) {
      const target: UsageTarget = key.userId
        ? { kind: 'user', userId: key.userId, tenantId: key.tenantId, acrossTenants: false }
        : { kind: 'tenant', tenantId: key.tenantId! };
      return { target, filter: { keyId: key.id } };
    }
    const target = resolveTarget(c, q);
    return { target, filter: { ...filterFor(target), keyId: key.id } };
  };
  const identityFor = (c: Caller, q: { tenantId?: string; userId?: string; plan?: string }): Identity => {
    // A caller with an API key sees (and is checked against) that key's own caps too.
    if (q.tenantId === undefined && q.userId === undefined)
      return { tenantId: c.tenantId, userId: c.userId, plan: q.plan ?? c.tier, apiKeyId: c.apiKeyId ?? null };
    const target = resolveTarget(c, q);
    return target.kind === 'tenant'
      ? { tenantId: target.tenantId, plan: q.plan ?? (isAdmin(c) ? undefined : c.tier) }
      : {
          tenantId: target.tenantId,
          userId: target.userId,
          plan: q.plan ?? (isAdmin(c) ? undefined : c.tier),
        };
  };

  router.use(dashboardRoutes(publicDir));

  router.get(
    '/usage/quota',
    route(async (req, res) => {
      const c = await caller(req);
      const q = parse(s.quota, req.query);
      res.json(await engine.status(identityFor(c, q)));
    }),
  );

  router.get(
    '/usage/stats',
    route(async (req, res) => {
      const c = await caller(req);
      const q = parse(s.stats, req.query);
      const { target, filter } = await usageTarget(c, q);
      const stats = await usageStats(sql, {
        filter,
        from: new Date(now() - q.days * DAY_MS),
      });
      const identity: Identity =
        target.kind === 'tenant'
          ? {
              tenantId: target.tenantId,
              plan: isAdmin(c) && target.tenantId !== c.tenantId ? undefined : c.tier,
            }
          : {
              tenantId: target.tenantId,
              userId: target.userId,
              plan: isAdmin(c) && target.userId !== c.userId ? undefined : c.tier,
            };
      const status = await engine.status(identity);
      const unpricedModels = stats.models
        .map((m) => m.model)
        .filter((m) => m && !Object.hasOwn(config.pricing, m) && engine.prices.lookup(m) === null);
      // The `cost` meter counts pico-dollars; the API speaks USD decimal strings.
      const meters = stats.meters.map((m) => (m.meter === 'cost' ? { ...m, amount: stats.cost } : m));
      res.json({
        days: q.days,
        subject:
          target.kind === 'tenant'
            ? { tenantId: target.tenantId, userId: null }
            : { tenantId: target.tenantId, userId: target.userId },
        ...stats,
        meters,
        limits: status.quotas,
        userLimits: status.userQuotas,
        warnings: warningsFrom(status, config.warnAt),
        unpricedModels,
      });
    }),
  );

  router.get(
    '/usage/timeseries/:meter',
    route(async (req, res) => {
      const c = await caller(req);
      const meter = parse(s.timeseriesMeter, req.params.meter, 'meter');
      const q = parse(s.timeseries, req.query);
      const { filter } = await usageTarget(c, q);
      const points = await usageTimeseries(sql, {
        filter,
        meter,
        days: q.days,
        interval: q.interval,
        timezone: config.timezone,
        now: now(),
      });
      res.json(
        meter === 'cost'
          ? points.map((p) => ({ date: p.date, amount: picoToUsd(BigInt(p.amount)) }))
          : points,
      );
    }),
  );

  router.post(
    '/usage/check-quota',
    json,
    route(async (req, res) => {
      const c = await caller(req);
      const body = parse(s.checkQuota, req.body ?? {});
      res.json(
        await engine.check(
          { tenantId: c.tenantId, userId: c.userId, plan: c.tier, apiKeyId: c.apiKeyId ?? null },
          body.meter,
          body.amount,
        ),
      );
    }),
  );

  router.get(
    '/usage/export.csv',
    route(async (req, res) => {
      const c = await caller(req);
      const q = parse(s.exportCsv, req.query);
      const { filter } = await usageTarget(c, q);
      res
        .status(200)
        .type('text/csv; charset=utf-8')
        .setHeader('content-disposition', 'attachment; filename="tollgate-usage.csv"');
      const stream = exportCsv(sql, { filter, from: q.from, to: q.to });
      await new Promise<void>((resolve, reject) => {
        stream.on('error', reject);
        res.on('close', resolve);
        stream.pipe(res);
      }).catch((err: unknown) => {
        // Headers are sent: end the body so the client sees a truncated download, not a hang.
        res.destroy(err as Error);
      });
    }),
  );

  router.get(
    '/usage/events',
    route(async (req, res) => {
      const c = await caller(req);
      const q = parse(s.events, req.query);
      const { filter } = await usageTarget(c, q);
      res.json(await listEvents(sql, { filter, from: new Date(now() - q.days * DAY_MS) }));
    }),
  );

  router.get(
    '/admin/usage/top',
    route(async (req, res) => {
      const c = await caller(req);
      requireAdmin(c);
      const q = parse(s.top, req.query);
      const window = periodWindow(q.period, now(), config.timezone);
      const rows = await topConsumers(sql, { meter: q.meter, from: new Date(window.start), limit: q.limit });
      res.json({ meter: q.meter, period: q.period, from: new Date(window.start).toISOString(), top: rows });
    }),
  );

  router.put(
    '/admin/quotas/:scope/:id',
    json,
    route(async (req, res) => {
      const c = await caller(req);
      requireAdmin(c);
      const params = parse(s.overrideParams, req.params);
      const body = parse(s.override, req.body ?? {});
      // A limit reads as in the config file (`cost` in USD: "50.00" or 50 dollars, never raw pico-dollars).
      let limit: number | null = null;
      if (body.limit !== null) {
        const parsed = parseLimit(body.meter, body.limit);
        if (typeof parsed === 'string') throw invalid([{ field: 'limit', message: parsed }]);
        limit = parsed;
      }
      if (limit !== null && !isLimitValue(body.meter, limit)) {
        throw invalid([{ field: 'limit', message: 'is too large' }]);
      }
      let tenantId = params.scope === 'tenant' ? params.id : (body.tenantId ?? null);
      let userId: string | null = null;
      if (params.scope === 'key') {
        // A key's counters live in its owner's shard: the owner comes from the key's row, never from the body.
        if (body.tenantId !== undefined)
          throw invalid([{ field: 'tenantId', message: "is the key owner's; it cannot be given" }]);
        const key = await findApiKey(sql, params.id);
        if (key === null) throw new HttpProblem(404, 'Not Found', `no API key ${params.id}`);
        tenantId = key.tenantId;
        userId = key.userId;
      }
      // Durable copy first: if the store write fails, a retry converges; the ledger copy restores lost stores.
      await saveOverride(sql, {
        scope: params.scope,
        id: params.id,
        tenantId,
        meter: body.meter,
        period: body.period,
        limit,
      });
      await engine.setOverride(
        { scope: params.scope, id: params.id, tenantId, userId },
        body.meter,
        body.period,
        limit,
      );
      res.json({
        scope: params.scope,
        id: params.id,
        tenantId,
        meter: body.meter,
        period: body.period,
        limit: body.limit,
      });
    }),
  );

  return router;
}

/** Error middleware for the usage API: problem+json for known problems, body-parser errors and bad JSON. */
export function usageErrorHandler(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) return next(err);
  if (err instanceof HttpProblem) return sendProblem(res, err);
  const e = err as { type?: string; status?: number; message?: string };
  if (e.type === 'entity.too.large')
    return sendProblem(res, new HttpProblem(413, 'Payload too large', 'the request body is over the limit'));
  if (e.type === 'entity.parse.failed')
    return sendProblem(res, invalid([{ field: 'body', message: 'malformed JSON' }]));
  if (e.type === 'encoding.unsupported' || e.status === 415)
    return sendProblem(res, new HttpProblem(415, 'Unsupported media type', e.message ?? ''));
  next(err);
}
