// PUT /admin/quotas/:scope/:id: a tenant's, user's or API key's own limit for one meter and period (role admin).
import { saveOverride } from '@tollgate/ledger';
import { requireAdmin } from '../identity';
import { route, type UsageRoute } from '../route-context';
import { overrideLimit, overrideOwner } from '../rules/quota-override';
import { parse } from '../validation';

export const adminQuotasRoute: UsageRoute = (router, ctx) => {
  router.put(
    '/admin/quotas/:scope/:id',
    ctx.json,
    route(async (req, res) => {
      requireAdmin(await ctx.caller(req));
      const params = parse(ctx.schemas.overrideParams, req.params);
      const body = parse(ctx.schemas.override, req.body ?? {});
      const limit = overrideLimit(body.meter, body.limit);
      const { tenantId, userId } = await overrideOwner(ctx.sql, params, body.tenantId);
      const { meter, period } = body;
      // Durable copy first: if the store write fails, a retry converges; the ledger copy restores lost stores.
      await saveOverride(ctx.sql, { scope: params.scope, id: params.id, tenantId, meter, period, limit });
      await ctx.engine.setOverride(
        { scope: params.scope, id: params.id, tenantId, userId },
        meter,
        period,
        limit,
      );
      res.json({ scope: params.scope, id: params.id, tenantId, meter, period, limit: body.limit });
    }),
  );
};
