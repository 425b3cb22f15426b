// Who the usage API's caller is and whose usage it may see: own user by default, own tenant with scope=tenant,
// anyone for role admin (SPEC §10); one API key's usage only for its owner (or an admin).
import type { Request } from 'express';
import type { Identity } from '@tollgate/core';
import { findApiKey, type SqlClient, type UsageFilter } from '@tollgate/ledger';
import { TokenError } from '../jwt';
import { forbidden, notFound, unauthorized } from '../problem';

export interface Caller {
  userId: string | null;
  tenantId: string | null;
  tier: string | null;
  role: string | null;
  email: string | null;
  /** The API key the caller authenticated with; absent (or null) for a JWT. */
  apiKeyId?: string | null;
}

/**
 * The ledger rows a request may read: one user's inside one tenant (or acting without a tenant: `tenantId` null), or
 * one tenant's. Only an admin naming a user without a tenant reads that user id across tenants (`acrossTenants`).
 */
export type UsageTarget =
  | { kind: 'user'; userId: string; tenantId: string | null; acrossTenants: boolean }
  | { kind: 'tenant'; tenantId: string };

export function isAdmin(caller: Caller): boolean {
  return caller.role === 'admin';
}

export function resolveTarget(
  caller: Caller,
  q: { scope?: 'user' | 'tenant'; tenantId?: string; userId?: string },
): UsageTarget {
  const admin = isAdmin(caller);
  if (!admin) {
    if (q.tenantId !== undefined && q.tenantId !== caller.tenantId)
      throw forbidden('you may only read your own tenant');
    if (q.userId !== undefined && q.userId !== caller.userId)
      throw forbidden('you may only read your own usage');
  }
  const acrossTenants = admin && q.userId !== undefined && q.tenantId === undefined;
  const tenantId = q.tenantId ?? (acrossTenants ? null : caller.tenantId);
  if (q.userId !== undefined)
    return { kind: 'user', userId: q.userId, tenantId: tenantId ?? null, acrossTenants };
  if (q.scope === 'tenant' || (admin && q.tenantId !== undefined)) {
    if (!tenantId) throw forbidden('no tenant to read: the token has no tenant_id');
    return { kind: 'tenant', tenantId };
  }
  if (!caller.userId) {
    if (caller.tenantId) return { kind: 'tenant', tenantId: caller.tenantId };
    throw forbidden('the token names no user');
  }
  return { kind: 'user', userId: caller.userId, tenantId: caller.tenantId, acrossTenants: false };
}

export function requireAdmin(caller: Caller): void {
  if (!isAdmin(caller)) throw forbidden('this endpoint needs role admin');
}

/** The gateway's credential check as the usage API's: a bad or missing credential is a 401 with its challenge. */
export function callerAuthenticator(
  authenticate: (req: Request) => Caller | Promise<Caller>,
): (req: Request) => Promise<Caller> {
  return async (req) => {
    try {
      return await authenticate(req);
    } catch (err) {
      if (err instanceof TokenError) throw unauthorized(err.message, req.headers.authorization !== undefined);
      throw err;
    }
  };
}

export function filterFor(target: UsageTarget): UsageFilter {
  if (target.kind === 'tenant') return { tenantId: target.tenantId };
  // A user without a tenant is a subject of its own: a tenantless token never reads a tenant's rows of the same id.
  return target.acrossTenants
    ? { userId: target.userId }
    : { userId: target.userId, tenantId: target.tenantId };
}

export interface SubjectQuery {
  scope?: 'user' | 'tenant';
  tenantId?: string;
  userId?: string;
  keyId?: string;
}

/**
 * The rows a stats/timeseries/events/export request reads: its subject (resolveTarget), narrowed to one API key
 * with `keyId`. A non-admin may name only a key of its own user in its own tenant (403 otherwise, also for a key
 * that does not exist: ids of others' keys are not confirmed); an admin naming only a key reads that key's rows.
 */
export async function usageTarget(
  sql: SqlClient,
  c: Caller,
  q: SubjectQuery,
): Promise<{ target: UsageTarget; filter: UsageFilter }> {
  if (q.keyId === undefined) {
    const target = resolveTarget(c, q);
    return { target, filter: filterFor(target) };
  }
  const key = await findApiKey(sql, q.keyId);
  if (!isAdmin(c) && (key === null || key.userId !== c.userId || key.tenantId !== c.tenantId))
    throw forbidden('you may only read the usage of your own API keys');
  if (key === null) throw notFound(`no API key ${q.keyId}`);
  if (isAdmin(c) && q.scope === undefined && q.tenantId === undefined && q.userId === undefined) {
    const target: UsageTarget = key.userId
      ? { kind: 'user', userId: key.userId, tenantId: key.tenantId, acrossTenants: false }
      : { kind: 'tenant', tenantId: key.tenantId! };
    return { target, filter: { keyId: key.id } };
  }
  const target = resolveTarget(c, q);
  return { target, filter: { ...filterFor(target), keyId: key.id } };
}

/** The subject a quota question is about: the caller's own (with its API key's caps), or one it may read. */
export function quotaIdentity(c: Caller, q: { tenantId?: string; userId?: string; plan?: string }): Identity {
  // A caller with an API key sees (and is checked against) that key's own caps too.
  if (q.tenantId === undefined && q.userId === undefined)
    return { tenantId: c.tenantId, userId: c.userId, plan: q.plan ?? c.tier, apiKeyId: c.apiKeyId ?? null };
  const target = resolveTarget(c, q);
  return target.kind === 'tenant'
    ? { tenantId: target.tenantId, plan: q.plan ?? (isAdmin(c) ? undefined : c.tier) }
    : {
        tenantId: target.tenantId,
        userId: target.userId,
        plan: q.plan ?? (isAdmin(c) ? undefined : c.tier),
      };
}

/** The subject whose limits a stats answer shows: the caller's tier, unless an admin reads someone else. */
export function statsIdentity(c: Caller, target: UsageTarget): Identity {
  return target.kind === 'tenant'
    ? {
        tenantId: target.tenantId,
        plan: isAdmin(c) && target.tenantId !== c.tenantId ? undefined : c.tier,
      }
    : {
        tenantId: target.tenantId,
        userId: target.userId,
        plan: isAdmin(c) && target.userId !== c.userId ? undefined : c.tier,
      };
}

/** The caller as the engine's subject (check-quota): its own tenant, user, tier and API key. */
export function callerIdentity(c: Caller): Identity {
  return { tenantId: c.tenantId, userId: c.userId, plan: c.tier, apiKeyId: c.apiKeyId ?? null };
}
