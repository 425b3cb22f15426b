// The durable copy of quota overrides (quota_overrides), for the admin API and for rebuilding lost store state.
import type { OverrideEntry, OverrideShard, Period, ScopeRef } from '@tollgate/core';
import { counterDigits, isLimitValue } from '@tollgate/core/internal';
import type { SqlExecutor } from './sql-client';

export interface StoredOverride extends ScopeRef {
  /** Tenant whose shard holds a user's override (null for a tenant, or a user with no tenant). */
  tenantId: string | null;
  meter: string;
  period: Period;
  /** -1 = unlimited. */
  limit: number;
  updatedAt: Date;
}

interface OverrideRow {
  scope: 'tenant' | 'user' | 'key';
  id: string;
  tenant_id: string | null;
  meter: string;
  period: Period;
  limit: string;
  updated_at: Date;
}

function fromRow(r: OverrideRow): StoredOverride {
  return {
    scope: r.scope,
    id: r.id,
    tenantId: r.tenant_id,
    meter: r.meter,
    period: r.period,
    limit: Number(r.limit),
    updatedAt: r.updated_at,
  };
}

/** The tenant a user's override belongs to in the key ('' for none); a tenant's own override has ''. */
function ownerTenant(o: ScopeRef & { tenantId?: string | null }): string {
  return o.scope === 'user' ? (o.tenantId ?? '') : '';
}

/** Sets an override (insert or replace); a user's override is one per tenant it is set in. */
export async function upsertOverride(
  sql: SqlExecutor,
  o: ScopeRef & { tenantId?: string | null; meter: string; period: Period; limit: number },
): Promise<void> {
  if (!isLimitValue(o.meter, o.limit))
    throw new RangeError('limit must be an integer >= -1 that the stores can hold');
  await sql.query(
    `INSERT INTO quota_overrides (scope, id, tenant_id, meter, period, "limit", updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, now())
     ON CONFLICT (scope, id, owner_tenant, meter, period)
     DO UPDATE SET tenant_id = EXCLUDED.tenant_id, "limit" = EXCLUDED."limit", updated_at = now()`,
    // Past 2^53 (cost limits), String(number) would write the double's shortest form, not its exact digits.
    [o.scope, o.id, o.tenantId ?? null, o.meter, o.period, counterDigits(o.limit)],
  );
}

/** Removes an override (a user's, of the tenant given: none for a tenantless user); true when one existed. */
export async function deleteOverride(
  sql: SqlExecutor,
  o: ScopeRef & { tenantId?: string | null; meter: string; period: Period },
): Promise<boolean> {
  const res = await sql.query(
    `DELETE FROM quota_overrides
     WHERE scope = $1 AND id = $2 AND owner_tenant = $3 AND meter = $4 AND period = $5`,
    [o.scope, o.id, ownerTenant(o), o.meter, o.period],
  );
  return res.rowCount > 0;
}

/** Applies a store-style entry: `limit: null` deletes, anything else upserts. */
export async function saveOverride(
  sql: SqlExecutor,
  entry: OverrideEntry & { tenantId?: string | null },
): Promise<void> {
  if (entry.limit === null) await deleteOverride(sql, entry);
  else await upsertOverride(sql, { ...entry, limit: entry.limit });
}

/**
 * Overrides, optionally only those of some owners, ordered by scope, id, tenant, meter, period. With `shard`, a
 * user's overrides are only those set in `shard.tenantId` (null: the user's own, tenantless ones).
 */
/**
 * The overrides a shard restores: its tenant's and keys' (a key's id is its own everywhere, owner_tenant ''), and its
 * users' set in the shard's tenant (`owner`: an SQL expression, that tenant or '' for none). Shared by every query
 * that reads them.
 */
export function shardOwnerFilter(owner: string): string {
  return `(scope IN ('tenant', 'key') OR owner_tenant = ${owner})`;
}

export async function listOverrides(
  sql: SqlExecutor,
  scopes?: readonly ScopeRef[],
  shard?: OverrideShard,
): Promise<StoredOverride[]> {
  const cols = 'scope, id, tenant_id, meter, period, "limit", updated_at';
  const order = 'ORDER BY scope, id, owner_tenant, meter, period';
  if (scopes === undefined) {
    return (await sql.query<OverrideRow>(`SELECT ${cols} FROM quota_overrides ${order}`)).rows.map(fromRow);
  }
  const params: unknown[] = [scopes.map((s) => s.scope), scopes.map((s) => s.id)];
  let tenant = '';
  if (shard !== undefined) {
    params.push(shard.tenantId ?? '');
    tenant = `AND ${shardOwnerFilter('$3')}`;
  }
  const res = await sql.query<OverrideRow>(
    `SELECT ${cols} FROM quota_overrides
     WHERE (scope, id) IN (SELECT s, i FROM unnest($1::text[], $2::text[]) AS x(s, i)) ${tenant}
     ${order}`,
    params,
  );
  return res.rows.map(fromRow);
}
