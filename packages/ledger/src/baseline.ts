// LedgerBaseline: rebuilds lost counters from the ledger (and overrides from quota_overrides).
import type { BaselineQuery, BaselineSource, OverrideEntry, OverrideShard, ScopeRef } from '@tollgate/core';
import { listOverrides } from './overrides';
import type { SqlClient } from './sql-client';

/**
 * The `baseline` of a QuotaEngine backed by the ledger. `used()` sums the ledger rows of the scope
 * and meter whose hour bucket starts inside the window. Buckets are UTC hours, so:
 * - `minute` windows answer 0 (an hour bucket cannot be split; the minute is short-lived anyway);
 * - in a timezone with a sub-hour offset (e.g. Asia/Kolkata), a day or month starts mid-bucket and
 *   the bucket straddling the start is left out: the rebuilt value is approximate there.
 * Usage still unflushed when the store lost its data is lost with it; seeding each shard once is the store's job.
 */
export class LedgerBaseline implements BaselineSource {
  constructor(private readonly sql: SqlClient) {}

  async used(q: BaselineQuery): Promise<number> {
    if (q.period === 'minute') return 0;
    const owner =
      q.scope === 'key'
        ? { clause: 'key_id = $4', params: [q.id] }
        : q.scope === 'tenant'
          ? { clause: 'tenant_id = $4', params: [q.id] }
          : q.allTenants
            ? { clause: 'user_id = $4', params: [q.id] }
            : { clause: 'user_id = $4 AND tenant_id IS NOT DISTINCT FROM $5', params: [q.id, q.tenantId] };
    const res = await this.sql.query<{ used: string }>(
      `SELECT coalesce(sum(amount), 0)::text AS used FROM usage_ledger
       WHERE meter = $1 AND bucket_start >= $2 AND ($3::timestamptz IS NULL OR bucket_start < $3) AND ${owner.clause}`,
      [q.meter, q.periodStart.toISOString(), q.periodEnd ? q.periodEnd.toISOString() : null, ...owner.params],
    );
    return Number(res.rows[0]?.used ?? 0);
  }

  async overrides(scopes: ScopeRef[], shard?: OverrideShard): Promise<OverrideEntry[]> {
    const rows = await listOverrides(this.sql, scopes, shard);
    return rows.map((o) => ({ scope: o.scope, id: o.id, meter: o.meter, period: o.period, limit: o.limit }));
  }
}
