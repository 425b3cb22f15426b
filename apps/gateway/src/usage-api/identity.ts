// Who may see whose usage: own user by default, own tenant with scope=tenant, anyone for role admin (SPEC §10).
import { forbidden } from '../problem';

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
