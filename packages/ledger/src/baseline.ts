// LedgerBaseline: rebuilds lost counters from the ledger (and overrides from quota_overrides).
import type {
  BaselineQuery,
  BaselineSource,
  OverrideEntry,
  OverrideShard,
  Period,
  ScopeRef,
} from '@tollgate/core';
import { listOverrides, shardOwnerFilter } from './overrides';
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

  /**
   * The same sums for many queries in one statement (a rebuild asks for every limit of a shard at once):
   * one round trip and one query's work instead of one per limit. Answers in the order asked.
   */
  async usedMany(qs: readonly BaselineQuery[]): Promise<number[]> {
    const sums = usageSums(qs, 1);
    const out = qs.map(() => 0);
    if (!sums) return out;
    const res = await this.sql.query<{ i: number; used: string }>(sums.text, sums.params);
    for (const row of res.rows) out[Number(row.i)] = Number(row.used);
    return out;
  }

  /** A shard's overrides and its limits' sums in one statement: what a rebuild waits on, in one round trip. */
  async shardBaseline(
    scopes: ScopeRef[],
    shard: OverrideShard | undefined,
    qs: readonly BaselineQuery[],
  ): Promise<{ overrides: OverrideEntry[]; used: number[] }> {
    const params: unknown[] = [scopes.map((s) => s.scope), scopes.map((s) => s.id)];
    let tenant = '';
    if (shard !== undefined) {
      params.push(shard.tenantId ?? '');
      tenant = shardOwnerFilter(3);
    }
    const sums = usageSums(qs, params.length + 1);
    if (sums) params.push(...sums.params);
    const res = await this.sql.query<ShardRow>(
      `SELECT * FROM (
         SELECT 'o' AS k, scope, id, owner_tenant, meter, period, "limit"::text AS v, NULL::int AS i
         FROM quota_overrides
         WHERE (scope, id) IN (SELECT s, n FROM unnest($1::text[], $2::text[]) AS x(s, n)) ${tenant}
         ${sums ? `UNION ALL SELECT 'u', NULL, NULL, NULL, NULL, NULL, r.used, r.i FROM (${sums.text}) r` : ''}
       ) rows
       ORDER BY k, scope, id, owner_tenant, meter, period`,
      params,
    );
    const overrides: OverrideEntry[] = [];
    const used = qs.map(() => 0);
    for (const r of res.rows) {
      if (r.k === 'u') used[Number(r.i)] = Number(r.v);
      else
        overrides.push({
          scope: r.scope!,
          id: r.id!,
          meter: r.meter!,
          period: r.period!,
          limit: Number(r.v),
        });
    }
    return { overrides, used };
  }

  async overrides(scopes: ScopeRef[], shard?: OverrideShard): Promise<OverrideEntry[]> {
    const rows = await listOverrides(this.sql, scopes, shard);
    return rows.map((o) => ({ scope: o.scope, id: o.id, meter: o.meter, period: o.period, limit: o.limit }));
  }
}

interface ShardRow {
  k: 'o' | 'u';
  scope: 'tenant' | 'user' | null;
  id: string | null;
  meter: string | null;
  period: Period | null;
  v: string;
  i: number | null;
}

/**
 * The statement summing the ledger rows of each query (minutes left out: they answer 0), its parameters
 * numbered from `$first`; null when no query needs the ledger. Rows: `i` (the query's index), `used` (text).
 */
function usageSums(qs: readonly BaselineQuery[], first: number): { text: string; params: unknown[] } | null {
  const asked = qs.map((q, i) => ({ q, i })).filter(({ q }) => q.period !== 'minute');
  if (asked.length === 0) return null;
  // Whose rows count: a tenant's, a user's in every tenant, or a user's in one tenant (or none).
  const kind = (q: BaselineQuery) => (q.scope === 'tenant' ? 't' : q.allTenants ? 'a' : 'u');
  const $ = (n: number) => `$${first + n}`;
  return {
    text: `SELECT q.i, coalesce(sum(x.s), 0)::text AS used
       FROM unnest(${$(0)}::int[], ${$(1)}::text[], ${$(2)}::timestamptz[], ${$(3)}::timestamptz[],
                   ${$(4)}::text[], ${$(5)}::text[], ${$(6)}::text[])
         AS q(i, meter, since, until, kind, id, tenant)
       CROSS JOIN LATERAL (
         SELECT sum(amount) AS s FROM usage_ledger u
          WHERE q.kind = 't' AND u.tenant_id = q.id AND u.meter = q.meter
            AND u.bucket_start >= q.since AND (q.until IS NULL OR u.bucket_start < q.until)
         UNION ALL
         SELECT sum(amount) FROM usage_ledger u
          WHERE q.kind <> 't' AND u.user_id = q.id AND u.meter = q.meter
            AND (q.kind = 'a' OR u.tenant_id IS NOT DISTINCT FROM q.tenant)
            AND u.bucket_start >= q.since AND (q.until IS NULL OR u.bucket_start < q.until)
       ) x
       GROUP BY q.i`,
    params: [
      asked.map(({ i }) => i),
      asked.map(({ q }) => q.meter),
      asked.map(({ q }) => q.periodStart.toISOString()),
      asked.map(({ q }) => (q.periodEnd ? q.periodEnd.toISOString() : null)),
      asked.map(({ q }) => kind(q)),
      asked.map(({ q }) => q.id),
      asked.map(({ q }) => q.tenantId),
    ],
  };
}
