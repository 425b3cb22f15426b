// Notable events (quota exceeded, thresholds, overrides, degradation) of an owner, newest first.
import type { SqlExecutor } from '../sql-client';
import { Params, ownerConditions, where, type UsageFilter } from './filter';

export interface EventsQuery {
  filter: UsageFilter;
  from: Date;
  /** Exclusive end. Defaults to no end. */
  to?: Date;
  /** Only these types. Defaults to all. */
  types?: string[];
  /** At most this many. Defaults to 500. */
  limit?: number;
}

export interface UsageEvent {
  id: string;
  type: string;
  tenantId: string | null;
  userId: string | null;
  meter: string | null;
  period: string | null;
  details: Record<string, unknown>;
  /** ISO 8601. */
  occurredAt: string;
}

export async function listEvents(sql: SqlExecutor, q: EventsQuery): Promise<UsageEvent[]> {
  const limit = q.limit ?? 500;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
  const p = new Params();
  // Events name a key only as the scope they concern (a key's quota exceeded, an override set on it).
  const byKey = (param: string) => `details->>'scope' = 'key' AND details->>'id' = ${param}`;
  const conds = [...ownerConditions(q.filter, p, byKey), `occurred_at >= ${p.add(q.from.toISOString())}`];
  if (q.to) conds.push(`occurred_at < ${p.add(q.to.toISOString())}`);
  if (q.types) conds.push(`type = ANY(${p.add(q.types)}::text[])`);
  const res = await sql.query<{
    id: string;
    type: string;
    tenant_id: string | null;
    user_id: string | null;
    meter: string | null;
    period: string | null;
    details: Record<string, unknown>;
    occurred_at: Date;
  }>(
    `SELECT id::text AS id, type, tenant_id, user_id, meter, period, details, occurred_at
     FROM usage_events ${where(conds)} ORDER BY occurred_at DESC, id DESC LIMIT ${p.add(limit)}`,
    p.values,
  );
  return res.rows.map((r) => ({
    id: r.id,
    type: r.type,
    tenantId: r.tenant_id,
    userId: r.user_id,
    meter: r.meter,
    period: r.period,
    details: r.details,
    occurredAt: new Date(r.occurred_at).toISOString(),
  }));
}
