// The durable copy of quota overrides (quota_overrides), for the admin API and for rebuilding lost store state.
import { isLimitValue, type OverrideEntry, type Period, type ScopeRef } from '@tollgate/core';
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
  scope: 'tenant' | 'user';
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

/** Sets an override (insert or replace). */
export async function upsertOverride(
  sql: SqlExecutor,
  o: ScopeRef & { tenantId?: string | null; meter: string; period: Period; limit: number },
): Promise<void> {
  if (!isLimitValue(o.meter, o.limit))
    throw new RangeError('limit must be an integer >= -1 that the stores can hold');
  await sql.query(
    `INSERT INTO quota_overrides (scope, id, tenant_id, meter, period, "limit", updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, now())
     ON CONFLICT (scope, id, meter, period)
     DO UPDATE SET tenant_id = EXCLUDED.tenant_id, "limit" = EXCLUDED."limit", updated_at = now()`,
    // Past 2^53 (cost limits), String(number) would write the double's shortest form, not its exact digits.
    [o.scope, o.id, o.tenantId ?? null, o.meter, o.period, BigInt(o.limit).toString()],
  );
}

/** Removes an override; true when one existed. */
export async function deleteOverride(
  sql: SqlExecutor,
  o: ScopeRef & { meter: string; period: Period },
): Promise<boolean> {
  const res = await sql.query(
    'DELETE FROM quota_overrides WHERE scope = $1 AND id = $2 AND meter = $3 AND period = $4',
    [o.scope, o.id, o.meter, o.period],
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

/** Overrides, optionally only those of some owners, ordered by scope, id, meter, period. */
export async function listOverrides(
  sql: SqlExecutor,
  scopes?: readonly ScopeRef[],
): Promise<StoredOverride[]> {
  const cols = 'scope, id, tenant_id, meter, period, "limit", updated_at';
  const res =
    scopes === undefined
      ? await sql.query<OverrideRow>(`SELECT ${cols} FROM quota_overrides ORDER BY scope, id, meter, period`)
      : await sql.query<OverrideRow>(
          `SELECT ${cols} FROM quota_overrides
           WHERE (scope, id) IN (SELECT s, i FROM unnest($1::text[], $2::text[]) AS x(s, i))
           ORDER BY scope, id, meter, period`,
          [scopes.map((s) => s.scope), scopes.map((s) => s.id)],
        );
  return res.rows.map(fromRow);
}
