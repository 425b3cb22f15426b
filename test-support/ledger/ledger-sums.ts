// Reads the ledger back as the same tenant|user|meter tables the Tally builds.
import type { SqlExecutor } from '@tollgate/ledger';
import { numericToPico } from '@tollgate/core/internal';
import { subjectKey } from './tally';

export async function ledgerTables(
  sql: SqlExecutor,
  tenantLike = '%',
): Promise<{ amounts: Record<string, string>; costs: Record<string, string>; rows: number }> {
  const res = await sql.query<{
    tenant_id: string | null;
    user_id: string | null;
    meter: string;
    amount: string;
    cost: string;
    n: string;
  }>(
    `SELECT tenant_id, user_id, meter, sum(amount)::text AS amount, sum(cost_usd)::text AS cost, count(*)::text AS n
     FROM usage_ledger WHERE coalesce(tenant_id, '') LIKE $1 OR coalesce(user_id, '') LIKE $1
     GROUP BY tenant_id, user_id, meter`,
    [tenantLike],
  );
  const amounts: Record<string, string> = {};
  const costs: Record<string, string> = {};
  let rows = 0;
  const sorted = res.rows
    .map((r) => ({ k: subjectKey(r.tenant_id, r.user_id, r.meter), r }))
    .sort((a, b) => (a.k < b.k ? -1 : 1));
  for (const { k, r } of sorted) {
    rows += Number(r.n);
    if (r.amount !== '0') amounts[k] = r.amount;
    const pico = numericToPico(r.cost);
    if (pico !== 0n) costs[k] = pico.toString();
  }
  return { amounts, costs, rows };
}
