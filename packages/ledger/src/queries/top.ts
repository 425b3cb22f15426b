// Top consumers of one meter in a time range, by tenant or by user.
import type { SqlExecutor } from '../sql-client';
import { numericToUsd } from '@tollgate/core/internal';
import { toAmount } from './decimal';
import { Params } from './filter';

export interface TopQuery {
  meter: string;
  from: Date;
  /** Exclusive end. Defaults to no end. */
  to?: Date;
  /** Rank tenants, or users (each with its tenant). Defaults to `tenant`. */
  by?: 'tenant' | 'user';
  /** Only users of this tenant (with `by: 'user'`). Defaults to every tenant. */
  tenantId?: string;
  /** How many. Defaults to 10. */
  limit?: number;
}

export interface TopConsumer {
  tenantId: string | null;
  userId: string | null;
  /** Amount of `meter` in the range. */
  amount: number;
  /** Total cost of this consumer in the range (every meter), exact. */
  cost: string;
}

export async function topConsumers(sql: SqlExecutor, q: TopQuery): Promise<TopConsumer[]> {
  const limit = q.limit ?? 10;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
  const byUser = q.by === 'user';
  const p = new Params();
  const meter = p.add(q.meter);
  const conds = [`bucket_start >= ${p.add(q.from.toISOString())}`];
  if (q.to) conds.push(`bucket_start < ${p.add(q.to.toISOString())}`);
  conds.push(byUser ? 'user_id IS NOT NULL' : 'tenant_id IS NOT NULL');
  if (byUser && q.tenantId !== undefined) conds.push(`tenant_id = ${p.add(q.tenantId)}`);
  const keys = byUser ? 'tenant_id, user_id' : 'tenant_id';
  const res = await sql.query<{
    tenant_id: string | null;
    user_id: string | null;
    amount: string;
    cost: string;
  }>(
    `SELECT ${keys}${byUser ? '' : ', NULL::text AS user_id'},
            sum(amount) FILTER (WHERE meter = ${meter})::text AS amount, sum(cost_usd)::text AS cost
     FROM usage_ledger WHERE ${conds.join(' AND ')}
     GROUP BY ${keys}
     HAVING sum(amount) FILTER (WHERE meter = ${meter}) > 0
     ORDER BY sum(amount) FILTER (WHERE meter = ${meter}) DESC, ${keys}
     LIMIT ${p.add(limit)}`,
    p.values,
  );
  return res.rows.map((r) => ({
    tenantId: r.tenant_id,
    userId: r.user_id,
    amount: toAmount(r.amount),
    cost: numericToUsd(r.cost),
  }));
}
