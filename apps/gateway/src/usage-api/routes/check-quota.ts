// POST /usage/check-quota: would `amount` of `meter` fit the caller's limits now (nothing is recorded).
import { callerIdentity } from '../identity';
import { route, type UsageRoute } from '../route-context';
import { parse } from '../validation';

export const checkQuotaRoute: UsageRoute = (router, ctx) => {
  router.post(
    '/usage/check-quota',
    ctx.json,
    route(async (req, res) => {
      const c = await ctx.caller(req);
      const body = parse(ctx.schemas.checkQuota, req.body ?? {});
      res.json(await ctx.engine.check(callerIdentity(c), body.meter, body.amount));
    }),
  );
};
