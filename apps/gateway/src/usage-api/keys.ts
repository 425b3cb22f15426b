// API key endpoints (SPEC §11): create, list, revoke and rotate; an admin for anyone, a user for itself only.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { identityValueProblem, type TollgateConfig } from '@tollgate/core';
import {
  apiKeyRefusal,
  apiKeySuccessor,
  createApiKey,
  findApiKey,
  listApiKeys,
  revokeApiKey,
  rotateApiKey,
  type ApiKeyRecord,
  type CreatedApiKey,
  type SqlClient,
} from '@tollgate/ledger';
import { isAdmin, type Caller } from './authz';
import { HttpProblem, forbidden, invalid } from '../problem';
import { parse } from './validation';

export interface KeyRoutesOptions {
  sql: SqlClient;
  config: TollgateConfig;
  authenticate: (req: Request) => Promise<Caller>;
  /** Called after a key was revoked or rotated here, so this instance forgets it at once. */
  onChange: (id: string) => void;
  bodyLimit?: string;
}

const id = z.string().min(1).max(256);
/** A key's owner is forwarded upstream on every use: it must be a value a header can carry as it is (as a claim). */
const owner = id.superRefine((v, ctx) => {
  const problem = identityValueProblem(v);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
});
const MAX_GRACE_SECONDS = 30 * 86_400;

function route(fn: (req: Request, res: Response) => Promise<void>) {
  return (req: Request, res: Response, next: NextFunction) => {
    fn(req, res).catch(next);
  };
}

/** A key as listed: never its secret, nor its hash. */
function listed(r: ApiKeyRecord) {
  return {
    id: r.id,
    prefix: r.prefix,
    name: r.name,
    tenantId: r.tenantId,
    userId: r.userId,
    tier: r.tier,
    createdAt: r.createdAt.toISOString(),
    expiresAt: r.expiresAt?.toISOString() ?? null,
    revokedAt: r.revokedAt?.toISOString() ?? null,
    lastUsedAt: r.lastUsedAt?.toISOString() ?? null,
  };
}

/** The one answer that carries the secret (create, rotate): not to be cached by anything on the way. */
function sendCreated(res: Response, created: CreatedApiKey, extra: Record<string, unknown> = {}): void {
  const r = created.record;
  res.setHeader('Cache-Control', 'no-store');
  res.status(201).json({
    id: r.id,
    key: created.key,
    prefix: r.prefix,
    name: r.name,
    tenantId: r.tenantId,
    userId: r.userId,
    tier: r.tier,
    createdAt: r.createdAt.toISOString(),
    expiresAt: r.expiresAt?.toISOString() ?? null,
    ...extra,
  });
}

function ownedBy(r: ApiKeyRecord, c: Caller): boolean {
  return r.userId === c.userId && r.tenantId === c.tenantId;
}

export function keyRoutes(o: KeyRoutesOptions): Router {
  const router = express.Router();
  const json = express.json({ limit: o.bodyLimit ?? '1mb' });
  const plans = Object.keys(o.config.plans);
  const expiresAt = z
    .string()
    .datetime({ offset: true, message: 'must be an ISO 8601 date-time' })
    .transform((s) => new Date(s))
    .refine((d) => d.getTime() > Date.now(), 'must be in the future');
  const create = z
    .object({
      name: z.string().trim().min(1).max(200),
      tenantId: owner.nullable().optional(),
      userId: owner.nullable().optional(),
      tier: z
        .string()
        .refine((t) => plans.includes(t), `must be a configured plan (${plans.join(', ')})`)
        .nullable()
        .optional(),
      expiresAt: expiresAt.nullable().optional(),
    })
    .strict();
  const listQuery = z.object({ tenantId: id.optional(), userId: id.optional() }).strict();
  const rotate = z
    .object({ graceSeconds: z.number().int().min(0).max(MAX_GRACE_SECONDS).default(0) })
    .strict();
  const keyParams = z.object({ id });

  const admin = async (req: Request): Promise<Caller> => {
    const c = await o.authenticate(req);
    if (!isAdmin(c)) throw forbidden('this endpoint needs role admin');
    return c;
  };
  const existing = async (keyId: string): Promise<ApiKeyRecord> => {
    const r = await findApiKey(o.sql, keyId);
    if (r === null) throw new HttpProblem(404, 'Not Found', `no API key ${keyId}`);
    return r;
  };

  router.post(
    '/admin/keys',
    json,
    route(async (req, res) => {
      await admin(req);
      const b = parse(create, req.body ?? {});
      if (!b.tenantId && !b.userId)
        throw invalid([{ field: 'userId', message: 'a key names a user or a tenant (or both)' }]);
      const created = await createApiKey(o.sql, {
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

  router.post(
    '/usage/keys',
    json,
    route(async (req, res) => {
      const c = await o.authenticate(req);
      const b = parse(create, req.body ?? {});
      // A key made with a key would outlive the caller key's expiry, overrides and revocation (a leaked key could
      // keep its access for good): keys are created with a JWT.
      if (c.apiKeyId) throw forbidden('an API key cannot create API keys; use a JWT');
      if (!c.userId) throw forbidden('the credential names no user to create a key for');
      // A user's own key: its own tenant and tier, nothing it could not already do.
      if (b.tenantId !== undefined && b.tenantId !== c.tenantId)
        throw forbidden('you may only create keys inside your own tenant');
      if (b.userId !== undefined && b.userId !== c.userId)
        throw forbidden('you may only create keys for yourself');
      if (b.tier !== undefined && b.tier !== c.tier)
        throw forbidden('you may only create keys with your own tier');
      const created = await createApiKey(o.sql, {
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
    '/admin/keys',
    route(async (req, res) => {
      await admin(req);
      const q = parse(listQuery, req.query);
      res.json((await listApiKeys(o.sql, q)).map(listed));
    }),
  );

  router.get(
    '/usage/keys',
    route(async (req, res) => {
      const c = await o.authenticate(req);
      parse(z.object({}).strict(), req.query);
      if (!c.userId) throw forbidden('the credential names no user');
      res.json((await listApiKeys(o.sql, { tenantId: c.tenantId, userId: c.userId })).map(listed));
    }),
  );

  router.delete(
    '/admin/keys/:id',
    route(async (req, res) => {
      await admin(req);
      const p = parse(keyParams, req.params);
      await existing(p.id);
      await revokeApiKey(o.sql, p.id);
      o.onChange(p.id);
      res.status(204).end();
    }),
  );

  router.delete(
    '/usage/keys/:id',
    route(async (req, res) => {
      const c = await o.authenticate(req);
      const p = parse(keyParams, req.params);
      // As for listing: without a user, null would equal every user-less key of the tenant.
      if (!c.userId) throw forbidden('the credential names no user');
      const r = await existing(p.id);
      if (!ownedBy(r, c)) throw forbidden('you may only revoke your own keys');
      await revokeApiKey(o.sql, p.id);
      o.onChange(p.id);
      res.status(204).end();
    }),
  );

  router.post(
    '/admin/keys/:id/rotate',
    json,
    route(async (req, res) => {
      await admin(req);
      const p = parse(keyParams, req.params);
      const b = parse(rotate, req.body ?? {});
      const old = await existing(p.id);
      if (old.revokedAt !== null) throw new HttpProblem(409, 'Conflict', `API key ${p.id} is revoked`);
      // Its successor keeps its expiry: it would be refused on first use.
      if (apiKeyRefusal(old, Date.now()) === 'expired')
        throw new HttpProblem(409, 'Conflict', `API key ${p.id} is expired`);
      const created = await o.sql.transaction(async (tx) => {
        // A second successor would inherit the first rotation's grace-period expiry.
        const successor = await apiKeySuccessor(tx, old.id);
        if (successor !== null)
          throw new HttpProblem(409, 'Conflict', `API key ${old.id} was rotated into ${successor}`);
        return rotateApiKey(tx, old, b.graceSeconds);
      });
      o.onChange(p.id);
      sendCreated(res, created, { rotatedFrom: old.id });
    }),
  );

  return router;
}
