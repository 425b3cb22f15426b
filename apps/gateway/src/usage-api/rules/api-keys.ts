// API keys as the usage API takes and gives them: the request schemas, what a user may create for itself, and
// a key as listed (never its secret) or as created (its secret, once, uncached).
import type { Response } from 'express';
import { z } from 'zod';
import type { TollgateConfig } from '@tollgate/core';
import { identityValueProblem } from '@tollgate/http';
import type { ApiKeyRecord, CreatedApiKey } from '@tollgate/ledger';
import { apiKeyRefusal } from '@tollgate/ledger/internal';
import { conflict, forbidden } from '../../problem';
import type { Caller } from '../identity';

const id = z.string().min(1).max(256);
/** A key's owner is forwarded upstream on every use: it must be a value a header can carry as it is (as a claim). */
const owner = id.superRefine((v, ctx) => {
  const problem = identityValueProblem(v);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
});
const MAX_GRACE_SECONDS = 30 * 86_400;

export function keySchemas(config: TollgateConfig) {
  const plans = Object.keys(config.plans);
  const expiresAt = z
    .string()
    .datetime({ offset: true, message: 'must be an ISO 8601 date-time' })
    .transform((s) => new Date(s))
    .refine((d) => d.getTime() > Date.now(), 'must be in the future');
  return {
    create: z
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
      .strict(),
    listQuery: z.object({ tenantId: id.optional(), userId: id.optional() }).strict(),
    ownListQuery: z.object({}).strict(),
    rotate: z.object({ graceSeconds: z.number().int().min(0).max(MAX_GRACE_SECONDS).default(0) }).strict(),
    keyParams: z.object({ id }),
  };
}

export type KeySchemas = ReturnType<typeof keySchemas>;
type CreateBody = z.output<KeySchemas['create']>;

/** Refuses (403) what a caller may not put on a key of its own: it gets its own tenant and tier, nothing more. */
export function checkOwnKeyRequest(c: Caller, b: CreateBody): void {
  // A key made with a key would outlive the caller key's expiry, overrides and revocation (a leaked key could
  // keep its access for good): keys are created with a JWT.
  if (c.apiKeyId) throw forbidden('an API key cannot create API keys; use a JWT');
  if (!c.userId) throw forbidden('the credential names no user to create a key for');
  if (b.tenantId !== undefined && b.tenantId !== c.tenantId)
    throw forbidden('you may only create keys inside your own tenant');
  if (b.userId !== undefined && b.userId !== c.userId)
    throw forbidden('you may only create keys for yourself');
  if (b.tier !== undefined && b.tier !== c.tier)
    throw forbidden('you may only create keys with your own tier');
}

/** Refuses (409) rotating a key that is revoked or expired: its successor would be refused on first use. */
export function checkRotatable(old: ApiKeyRecord): void {
  if (old.revokedAt !== null) throw conflict(`API key ${old.id} is revoked`);
  if (apiKeyRefusal(old, Date.now()) === 'expired') throw conflict(`API key ${old.id} is expired`);
}

export function ownedBy(r: ApiKeyRecord, c: Caller): boolean {
  return r.userId === c.userId && r.tenantId === c.tenantId;
}

/** A key as listed: never its secret, nor its hash. */
export function listed(r: ApiKeyRecord) {
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
export function sendCreated(
  res: Response,
  created: CreatedApiKey,
  extra: Record<string, unknown> = {},
): void {
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
