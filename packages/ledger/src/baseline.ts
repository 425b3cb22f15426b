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

  /**
   * A shard's overrides and its limits' sums: what a rebuild waits on. One statement is out at a time; rebuilds asked
   * for meanwhile wait and go together in the next one (up to `BASELINES_PER_STATEMENT`), so never-seen subjects
   * arriving in a burst cost one round trip per burst, not one each. A lone rebuild is sent at once, and a statement
   * out for longer than `BASELINE_STALL_MS` (a hung connection, a slow sum) no longer holds the others back: the next
   * one goes beside it (at most `BASELINE_STATEMENTS_OUT` in all).
   */
  shardBaseline(
    scopes: ScopeRef[],
    shard: OverrideShard | undefined,
    qs: readonly BaselineQuery[],
  ): Promise<{ overrides: OverrideEntry[]; used: number[] }> {
    return new Promise((resolve, reject) => {
      // A query that cannot be sent (an invalid date) fails its own rebuild here, not a statement shared with others.
      for (const q of qs) {
        if (
          !Number.isFinite(q.periodStart.getTime()) ||
          (q.periodEnd && !Number.isFinite(q.periodEnd.getTime()))
        ) {
          reject(new RangeError(`baseline query for ${q.scope} ${q.id} ${q.meter} has an invalid window`));
          return;
        }
      }
      this.waiting.push({ scopes, shard, qs, resolve, reject });
      this.sendWaiting();
    });
  }

  private readonly waiting: BaselineAsk[] = [];
  /** When each statement out was sent. */
  private readonly out = new Set<{ sentAt: number }>();
  private recheck: NodeJS.Timeout | null = null;

  private sendWaiting(): void {
    while (this.waiting.length > 0 && this.out.size < BASELINE_STATEMENTS_OUT) {
      const now = Date.now();
      let lastSent = -Infinity;
      for (const s of this.out) if (s.sentAt > lastSent) lastSent = s.sentAt;
      if (now - lastSent < BASELINE_STALL_MS) {
        // One is out and not stalled: wait for it, or for it to stall.
        if (this.recheck === null) {
          this.recheck = setTimeout(
            () => {
              this.recheck = null;
              this.sendWaiting();
            },
            lastSent + BASELINE_STALL_MS - now,
          );
          this.recheck.unref();
        }
        return;
      }
      const asks = this.waiting.splice(0, BASELINES_PER_STATEMENT);
      const statement = { sentAt: now };
      this.out.add(statement);
      void this.answer(asks).finally(() => {
        this.out.delete(statement);
        this.sendWaiting();
      });
    }
  }

  /**
   * Answers rebuilds from one statement. When it fails, each is asked again on its own: an error the database finds
   * in one rebuild's values is that rebuild's alone (an outage fails each of them anyway).
   */
  private async answer(asks: readonly BaselineAsk[]): Promise<void> {
    try {
      const answers = await shardBaselines(this.sql, asks);
      asks.forEach((a, i) => a.resolve(answers[i]!));
    } catch (err) {
      if (asks.length === 1) {
        asks[0]!.reject(err);
        return;
      }
      await Promise.all(
        asks.map((a) =>
          shardBaselines(this.sql, [a]).then(
            ([answer]) => a.resolve(answer!),
            (e: unknown) => a.reject(e),
          ),
        ),
      );
    }
  }

  async overrides(scopes: ScopeRef[], shard?: OverrideShard): Promise<OverrideEntry[]> {
    const rows = await listOverrides(this.sql, scopes, shard);
    return rows.map((o) => ({ scope: o.scope, id: o.id, meter: o.meter, period: o.period, limit: o.limit }));
  }
}

/** At most this many rebuilds share one baseline statement. */
const BASELINES_PER_STATEMENT = 100;
/** Past this, a baseline statement still out no longer holds back the next one (a rebuild takes a few ms). */
const BASELINE_STALL_MS = 250;
/** Baseline statements out at most, stalled ones included (of the pool's connections). */
const BASELINE_STATEMENTS_OUT = 4;

interface BaselineAsk {
  scopes: ScopeRef[];
  shard: OverrideShard | undefined;
  qs: readonly BaselineQuery[];
  resolve: (answer: { overrides: OverrideEntry[]; used: number[] }) => void;
  reject: (err: unknown) => void;
}

/**
 * Many rebuilds' overrides and sums in one statement, answered in the order asked. Override rows carry the index
 * of the rebuild (`r`) that asked for them; sums are numbered across every rebuild's queries in turn.
 */
async function shardBaselines(
  sql: SqlClient,
  asks: readonly BaselineAsk[],
): Promise<Array<{ overrides: OverrideEntry[]; used: number[] }>> {
  // Per scope asked: its rebuild, and the shard owner its user overrides must have (null: any owner).
  const scopes: Array<{ r: number; s: string; n: string; t: string | null }> = [];
  const qs: BaselineQuery[] = [];
  // Per query, across every rebuild: which rebuild asked it, and its place among that rebuild's queries.
  const whose: Array<[number, number]> = [];
  asks.forEach((a, r) => {
    const t = a.shard === undefined ? null : wellFormed(a.shard.tenantId ?? '');
    for (const s of a.scopes) scopes.push({ r, s: wellFormed(s.scope), n: wellFormed(s.id), t });
    a.qs.forEach((q, j) => {
      qs.push(q);
      whose.push([r, j]);
    });
  });
  const sums = usageSums(qs, 2);
  const res = await sql.query<ShardRow>(
    `SELECT * FROM (
       SELECT 'o' AS k, s.r, o.scope, o.id, o.owner_tenant, o.meter, o.period, o."limit"::text AS v, NULL::int AS i
       FROM (SELECT DISTINCT r, s, n, t FROM json_to_recordset($1::json) AS x(r int, s text, n text, t text)) s
       JOIN quota_overrides o ON o.scope = s.s AND o.id = s.n
        AND (s.t IS NULL OR ${shardOwnerFilter('s.t')})
       ${sums ? `UNION ALL SELECT 'u', NULL, NULL, NULL, NULL, NULL, NULL, u.used, u.i FROM (${sums.text}) u` : ''}
     ) rows
     ORDER BY k, r, scope, id, owner_tenant, meter, period`,
    [JSON.stringify(scopes), ...(sums ? sums.params : [])],
  );
  const answers = asks.map((a) => ({ overrides: [] as OverrideEntry[], used: a.qs.map(() => 0) }));
  for (const row of res.rows) {
    if (row.k === 'u') {
      const [r, j] = whose[Number(row.i)]!;
      answers[r]!.used[j] = Number(row.v);
    } else {
      answers[Number(row.r)]!.overrides.push({
        scope: row.scope!,
        id: row.id!,
        meter: row.meter!,
        period: row.period!,
        limit: Number(row.v),
      });
    }
  }
  return answers;
}

interface ShardRow {
  k: 'o' | 'u';
  r: number | null;
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
  const rows = asked.map(({ q, i }) => ({
    i,
    meter: wellFormed(q.meter),
    since: q.periodStart.toISOString(),
    until: q.periodEnd ? q.periodEnd.toISOString() : null,
    kind: kind(q),
    id: wellFormed(q.id),
    tenant: q.tenantId === null ? null : wellFormed(q.tenantId),
  }));
  // Only the sums that are not 0 come back (the callers' answers start at 0): a never-seen subject's rebuild, the
  // common one, returns no rows to parse.
  return {
    text: `SELECT q.i, sum(x.s)::text AS used
       FROM json_to_recordset($${first}::json)
         AS q(i int, meter text, since timestamptz, until timestamptz, kind text, id text, tenant text)
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
       GROUP BY q.i
       HAVING coalesce(sum(x.s), 0) <> 0`,
    params: [JSON.stringify(rows)],
  };
}

/** Unpaired surrogates as U+FFFD: what node-postgres sends for them in a text parameter, and what the ledger holds. */
function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd');
}
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
