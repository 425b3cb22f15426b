// GET /usage/events: a subject's notable events (thresholds, rejections, degraded service) over `days`.
import { listEvents } from '@tollgate/ledger';
import { usageTarget } from '../identity';
import { route, type UsageRoute } from '../route-context';
import { parse } from '../validation';

const DAY_MS = 86_400_000;

export const eventsRoute: UsageRoute = (router, ctx) => {
  router.get(
    '/usage/events',
    route(async (req, res) => {
      const c = await ctx.caller(req);
      const q = parse(ctx.schemas.events, req.query);
      const { filter } = await usageTarget(ctx.sql, c, q);
      res.json(await listEvents(ctx.sql, { filter, from: new Date(ctx.now() - q.days * DAY_MS) }));
    }),
  );
};
