// PUT /admin/quotas' rules: the limit read as in the config file, and whose counters an override lands on.
import { isLimitValue, parseLimit } from '@tollgate/core/internal';
import { findApiKey, type SqlClient } from '@tollgate/ledger';
import { invalid, notFound } from '../../problem';

/** A limit as in the config file (`cost` in USD: "50.00" or 50 dollars, never raw pico-dollars); null removes it. */
export function overrideLimit(meter: string, given: number | string | null): number | null {
  if (given === null) return null;
  const parsed = parseLimit(meter, given);
  if (typeof parsed === 'string') throw invalid([{ field: 'limit', message: parsed }]);
  if (!isLimitValue(meter, parsed)) throw invalid([{ field: 'limit', message: 'is too large' }]);
  return parsed;
}

export interface OverrideOwner {
  tenantId: string | null;
  userId: string | null;
}

/** The tenant (and user) whose shard holds the override's counters. */
export async function overrideOwner(
  sql: SqlClient,
  params: { scope: 'tenant' | 'user' | 'key'; id: string },
  bodyTenantId: string | undefined,
): Promise<OverrideOwner> {
  if (params.scope !== 'key')
    return { tenantId: params.scope === 'tenant' ? params.id : (bodyTenantId ?? null), userId: null };
  // A key's counters live in its owner's shard: the owner comes from the key's row, never from the body.
  if (bodyTenantId !== undefined)
    throw invalid([{ field: 'tenantId', message: "is the key owner's; it cannot be given" }]);
  const key = await findApiKey(sql, params.id);
  if (key === null) throw notFound(`no API key ${params.id}`);
  return { tenantId: key.tenantId, userId: key.userId };
}
