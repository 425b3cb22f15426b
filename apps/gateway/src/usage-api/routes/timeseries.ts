// GET /usage/timeseries/:meter: one meter per day or hour (`cost` in USD decimal strings).
import { picoToUsd } from '@tollgate/core';
import { usageTimeseries } from '@tollgate/ledger';
import { usageTarget } from '../identity';
import { route, type UsageRoute } from '../route-context';
import { parse } from '../validation';

export const timeseriesRoute: UsageRoute = (router, ctx) => {
  router.get(
    '/usage/timeseries/:meter',
    route(async (req, res) => {
      const c = await ctx.caller(req);
      const meter = parse(ctx.schemas.timeseriesMeter, req.params.meter, 'meter');
      const q = parse(ctx.schemas.timeseries, req.query);
      const { filter } = await usageTarget(ctx.sql, c, q);
      const points = await usageTimeseries(ctx.sql, {
        filter,
        meter,
        days: q.days,
        interval: q.interval,
        timezone: ctx.config.timezone,
        now: ctx.now(),
      });
      res.json(
        meter === 'cost'
          ? points.map((p) => ({ date: p.date, amount: picoToUsd(BigInt(p.amount)) }))
          : points,
      );
    }),
  );
};
