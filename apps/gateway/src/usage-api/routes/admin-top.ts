// GET /admin/usage/top: the heaviest consumers of one meter this hour, day or month (role admin).
import { periodWindow } from '@tollgate/core';
import { topConsumers } from '@tollgate/ledger';
import { requireAdmin } from '../identity';
import { route, type UsageRoute } from '../route-context';
import { parse } from '../validation';

export const adminTopRoute: UsageRoute = (router, ctx) => {
  router.get(
    '/admin/usage/top',
    route(async (req, res) => {
      requireAdmin(await ctx.caller(req));
      const q = parse(ctx.schemas.top, req.query);
      const window = periodWindow(q.period, ctx.now(), ctx.config.timezone);
      const rows = await topConsumers(ctx.sql, {
        meter: q.meter,
        from: new Date(window.start),
        limit: q.limit,
      });
      res.json({ meter: q.meter, period: q.period, from: new Date(window.start).toISOString(), top: rows });
    }),
  );
};
