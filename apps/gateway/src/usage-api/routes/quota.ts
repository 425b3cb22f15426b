// GET /usage/quota: real-time quota status of the caller (or a subject it may read).
import { quotaIdentity } from '../identity';
import { route, type UsageRoute } from '../route-context';
import { parse } from '../validation';

export const quotaRoute: UsageRoute = (router, ctx) => {
  router.get(
    '/usage/quota',
    route(async (req, res) => {
      const c = await ctx.caller(req);
      const q = parse(ctx.schemas.quota, req.query);
      res.json(await ctx.engine.status(quotaIdentity(c, q)));
    }),
  );
};
