// /usage/keys: a user creates, lists and revokes its own API keys (with a JWT; never beyond its own rights).
import { createApiKey, listApiKeys, revokeApiKey } from '@tollgate/ledger';
import { forbidden } from '../../problem';
import type { KeyRoutes } from '../key-context';
import { route } from '../route-context';
import { checkOwnKeyRequest, listed, ownedBy, sendCreated } from '../rules/api-keys';
import { parse } from '../validation';

export const ownKeyRoutes: KeyRoutes = (router, ctx) => {
  const { sql, schemas: s } = ctx;
  router.post(
    '/usage/keys',
    ctx.json,
    route(async (req, res) => {
      const c = await ctx.caller(req);
      const b = parse(s.create, req.body ?? {});
      checkOwnKeyRequest(c, b);
      const created = await createApiKey(sql, {
        name: b.name,
        tenantId: c.tenantId,
        userId: c.userId,
        tier: c.tier,
        role: c.role,
        expiresAt: b.expiresAt ?? null,
      });
      sendCreated(res, created);
    }),
  );

  router.get(
    '/usage/keys',
    route(async (req, res) => {
      const c = await ctx.caller(req);
      parse(s.ownListQuery, req.query);
      if (!c.userId) throw forbidden('the credential names no user');
      res.json((await listApiKeys(sql, { tenantId: c.tenantId, userId: c.userId })).map(listed));
    }),
  );

  router.delete(
    '/usage/keys/:id',
    route(async (req, res) => {
      const c = await ctx.caller(req);
      const p = parse(s.keyParams, req.params);
      // As for listing: without a user, null would equal every user-less key of the tenant.
      if (!c.userId) throw forbidden('the credential names no user');
      const r = await ctx.existing(p.id);
      if (!ownedBy(r, c)) throw forbidden('you may only revoke your own keys');
      await revokeApiKey(sql, p.id);
      ctx.onChange(p.id);
      res.status(204).end();
    }),
  );
};
