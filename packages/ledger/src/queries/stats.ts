// Usage totals per meter and per model with exact cost, plus success rate and average latency.
import type { SqlExecutor } from '../sql-client';
import { toAmount } from './decimal';
import { Params, ownerConditions, where, type UsageFilter } from './filter';
import { picoToUsd } from '@tollgate/core';
import { numericToPico } from '@tollgate/core/internal';

export interface StatsQuery {
  filter: UsageFilter;
  /** Inclusive start (by hour bucket). */
  from: Date;
  /** Exclusive end. Defaults to no end. */
  to?: Date;
}

export interface MeterTotal {
  meter: string;
  amount: number;
  /** Exact USD, e.g. "0.002500". */
  cost: string;
}

export interface ModelTotal {
  model: string;
  cost: string;
  /** Amount per meter for this model (token meters, `tokens`, `cost` in pico-dollars). */
  meters: Record<string, number>;
}

export interface UsageStats {
  meters: MeterTotal[];
  models: ModelTotal[];
  /** Total cost (sum of every row's cost_usd), exact. */
  cost: string;
  requests: number;
  errors: number;
  /** Percent of requests that were not errors, 0-100 with 2 decimals; null without requests. */
  successRate: number | null;
  /** `latency_ms` sum / `requests`, 2 decimals; null without requests. */
  avgLatencyMs: number | null;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

export async function usageStats(sql: SqlExecutor, q: StatsQuery): Promise<UsageStats> {
  const p = new Params();
  const conds = [...ownerConditions(q.filter, p), `bucket_start >= ${p.add(q.from.toISOString())}`];
  if (q.to) conds.push(`bucket_start < ${p.add(q.to.toISOString())}`);
  const res = await sql.query<{ meter: string; model: string | null; amount: string; cost: string }>(
    `SELECT meter, model, sum(amount)::text AS amount, sum(cost_usd)::text AS cost
     FROM usage_ledger ${where(conds)} GROUP BY meter, model ORDER BY meter, model`,
    p.values,
  );
  const meters = new Map<string, { amount: bigint; cost: bigint }>();
  const models = new Map<string, { cost: bigint; meters: Map<string, bigint> }>();
  let total = 0n;
  for (const r of res.rows) {
    const amount = BigInt(r.amount);
    const cost = numericToPico(r.cost);
    total += cost;
    const m = meters.get(r.meter) ?? { amount: 0n, cost: 0n };
    m.amount += amount;
    m.cost += cost;
    meters.set(r.meter, m);
    if (r.model !== null) {
      const mo = models.get(r.model) ?? { cost: 0n, meters: new Map<string, bigint>() };
      mo.cost += cost;
      mo.meters.set(r.meter, (mo.meters.get(r.meter) ?? 0n) + amount);
      models.set(r.model, mo);
    }
  }
  const amountOf = (meter: string) => toAmount(meters.get(meter)?.amount.toString());
  const requests = amountOf('requests');
  const errors = amountOf('errors');
  return {
    meters: [...meters].map(([meter, v]) => ({
      meter,
      amount: toAmount(v.amount.toString()),
      cost: picoToUsd(v.cost),
    })),
    models: [...models].map(([model, v]) => ({
      model,
      cost: picoToUsd(v.cost),
      meters: Object.fromEntries([...v.meters].map(([k, a]) => [k, toAmount(a.toString())])),
    })),
    cost: picoToUsd(total),
    requests,
    errors,
    successRate: requests > 0 ? round2(((requests - errors) / requests) * 100) : null,
    avgLatencyMs: requests > 0 ? round2(amountOf('latency_ms') / requests) : null,
  };
}
