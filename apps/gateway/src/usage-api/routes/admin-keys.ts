// /admin/keys: an admin creates, lists, revokes and rotates anyone's API keys.
import { createApiKey, listApiKeys, revokeApiKey, rotateApiKey } from '@tollgate/ledger';
import { apiKeySuccessor } from '@tollgate/ledger/internal';
import { conflict, invalid } from '../../problem';
import { requireAdmin } from '../identity';
import type { KeyRoutes } from '../key-context';
import { route } from '../route-context';
import { checkRotatable, listed, sendCreated } from '../rules/api-keys';
import { parse } from '../validation';

export const adminKeyRoutes: KeyRoutes = (router, ctx) => {
  const { sql, schemas: s } = ctx;
  router.post(
    '/admin/keys',
    ctx.json,
    route(async (req, res) => {
      requireAdmin(await ctx.caller(req));
      const b = parse(s.create, req.body ?? {});
      if (!b.tenantId && !b.userId)
        throw invalid([{ field: 'userId', message: 'a key names a user or a tenant (or both)' }]);
      const created = await createApiKey(sql, {
        name: b.name,
        tenantId: b.tenantId ?? null,
        userId: b.userId ?? null,
        tier: b.tier ?? null,
        role: null,
        expiresAt: b.expiresAt ?? null,
      });
      sendCreated(res, created);
    }),
  );

  router.get(
    '/admin/keys',
    route(async (req, res) => {
      requireAdmin(await ctx.caller(req));
      const q = parse(s.listQuery, req.query);
      res.json((await listApiKeys(sql, q)).map(listed));
    }),
  );

  router.delete(
    '/admin/keys/:id',
    route(async (req, res) => {
      requireAdmin(await ctx.caller(req));
      const p = parse(s.keyParams, req.params);
      await ctx.existing(p.id);
      await revokeApiKey(sql, p.id);
      ctx.onChange(p.id);
      res.status(204).end();
    }),
  );

  router.post(
    '/admin/keys/:id/rotate',
    ctx.json,
    route(async (req, res) => {
      requireAdmin(await ctx.caller(req));
      const p = parse(s.keyParams, req.params);
      const b = parse(s.rotate, req.body ?? {});
      const old = await ctx.existing(p.id);
      checkRotatable(old);
      const created = await sql.transaction(async (tx) => {
        // A second successor would inherit the first rotation's grace-period expiry.
        const successor = await apiKeySuccessor(tx, old.id);
        if (successor !== null) throw conflict(`API key ${old.id} was rotated into ${successor}`);
        return rotateApiKey(tx, old, b.graceSeconds);
      });
      ctx.onChange(p.id);
      sendCreated(res, created, { rotatedFrom: old.id });
    }),
  );
};
