// GET /usage/stats: a subject's usage over `days`, with its limits, warnings and the models without a price.
import { usageStats } from '@tollgate/ledger';
import { statsIdentity, usageTarget } from '../identity';
import { route, type UsageRoute } from '../route-context';
import { quotaWarnings } from '../rules/quota-warnings';
import { parse } from '../validation';

const DAY_MS = 86_400_000;

export const statsRoute: UsageRoute = (router, ctx) => {
  const { engine, sql, config } = ctx;
  router.get(
    '/usage/stats',
    route(async (req, res) => {
      const c = await ctx.caller(req);
      const q = parse(ctx.schemas.stats, req.query);
      const { target, filter } = await usageTarget(sql, c, q);
      const stats = await usageStats(sql, { filter, from: new Date(ctx.now() - q.days * DAY_MS) });
      const status = await engine.status(statsIdentity(c, target));
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
        warnings: quotaWarnings(status, config.warnAt),
        unpricedModels,
      });
    }),
  );
};
