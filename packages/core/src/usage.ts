// Turns what a caller recorded (token counts per model, custom meters) into counter amounts and exact ledger deltas.
import { InvalidUsageError } from './errors';
import type { TollgateConfig } from './config';
import { AGGREGATE_METERS, isTokenMeter } from './meters';
import { hourBucket } from './periods';
import { PriceBook, tokenCostPico } from './pricing';
import type { MeterAmount, UsageDelta } from './store';

export interface UsageRecord {
  meter: string;
  /** Integer amount; negative only for gauge meters. */
  amount: number;
  /** Model as the provider reported it (token meters): picks the price. */
  model?: string;
  /** `openai`, `anthropic`, `gemini`: tried as a pricing-key prefix. */
  provider?: string;
  /** True when the amount was estimated (no provider-reported usage). */
  estimated?: boolean;
}

export interface ExpandedUsage {
  amounts: MeterAmount[];
  deltas: UsageDelta[];
  /** Models that matched no price (and no `*`). */
  unpriced: string[];
  /** Total cost of these records in pico-dollars. */
  costPico: bigint;
}

export interface Owner {
  tenantId: string | null;
  userId: string | null;
  /** The API key of the call, kept on each delta so the ledger can tell usage per key. */
  keyId?: string | null;
}

/** Validates one record against the config; throws InvalidUsageError naming the problem. */
export function validateRecord(config: TollgateConfig, r: UsageRecord): void {
  const def = Object.hasOwn(config.meters, r.meter) ? config.meters[r.meter] : undefined;
  if (!def) throw new InvalidUsageError(`unknown meter "${r.meter}"`);
  if (r.meter === 'cost')
    throw new InvalidUsageError('"cost" is derived from token meters and pricing; record tokens instead');
  if (!Number.isSafeInteger(r.amount))
    throw new InvalidUsageError(`amount for "${r.meter}" must be an integer, got ${r.amount}`);
  if (r.amount < 0 && def.kind !== 'gauge') {
    throw new InvalidUsageError(
      `amount for "${r.meter}" must be >= 0 (only gauge meters go down), got ${r.amount}`,
    );
  }
}

export function expandUsage(
  config: TollgateConfig,
  prices: PriceBook,
  owner: Owner,
  records: readonly UsageRecord[],
  now: number,
): ExpandedUsage {
  const amounts = new Map<string, number>();
  const deltas = new Map<string, UsageDelta>();
  const unpriced = new Set<string>();
  const bucketStart = hourBucket(now);
  let total = 0n;

  const addAmount = (meter: string, amount: number) => amounts.set(meter, (amounts.get(meter) ?? 0) + amount);
  const addDelta = (
    meter: string,
    model: string | null,
    amount: number,
    cost: bigint,
    estimated: boolean,
  ) => {
    const key = `${meter}\u0000${model ?? ''}\u0000${estimated ? 1 : 0}`;
    const cur = deltas.get(key);
    if (cur) {
      cur.amount += amount;
      cur.costPico = (BigInt(cur.costPico) + cost).toString();
      return;
    }
    // Fields named one by one: spreading `owner` here cost microseconds per delta on the admission path.
    const d: UsageDelta = {
      tenantId: owner.tenantId,
      userId: owner.userId,
      meter,
      model,
      bucketStart,
      amount,
      costPico: cost.toString(),
    };
    if (estimated) d.estimated = true;
    if (owner.keyId) d.keyId = owner.keyId;
    deltas.set(key, d);
  };

  for (const r of records) {
    validateRecord(config, r);
    if (r.amount === 0) continue;
    addAmount(r.meter, r.amount);
    const estimated = r.estimated === true;
    if (!isTokenMeter(r.meter)) {
      addDelta(r.meter, r.model ?? null, r.amount, 0n, estimated);
      continue;
    }
    let cost = 0n;
    let modelKey: string | null = r.model ?? null;
    if (r.model) {
      const match = prices.lookup(r.model, r.provider);
      if (match) {
        cost = tokenCostPico(match.price, r.meter, r.amount);
        // '*' prices everything alike; keep the reported name so breakdowns stay meaningful.
        if (match.key !== '*') modelKey = match.key;
      } else {
        unpriced.add(r.model);
      }
    }
    total += cost;
    addDelta(r.meter, modelKey, r.amount, cost, estimated);
    addAmount('tokens', r.amount);
    addDelta('tokens', modelKey, r.amount, 0n, estimated);
    if (cost > 0n) {
      addAmount('cost', Number(cost));
      addDelta('cost', modelKey, Number(cost), 0n, estimated);
    }
  }
  return {
    amounts: [...amounts].map(([meter, amount]) => ({ meter, amount })),
    deltas: [...deltas.values()],
    unpriced: [...unpriced],
    costPico: total,
  };
}

/** Aggregate meters carry no cost of their own (documented on `usage_ledger.cost_usd`). */
export function isAggregateMeter(meter: string): boolean {
  return AGGREGATE_METERS.has(meter);
}
