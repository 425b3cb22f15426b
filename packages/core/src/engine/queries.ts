// Reads that consume nothing: a subject's raw counters, its quota status (`/usage/quota`) and `check()`.
import { isConfiguredMeter } from '../config';
import { InvalidUsageError } from '../errors';
import { apiAmount, counterPico, isUsdAmount, picoToUsd, usdToPico } from '../money';
import type { Period } from '../periods';
import type { CounterState } from '../store';
import type { Identity, ResolvedSubject } from '../subject';
import { isSpent, percentage } from './limits';
import type { EngineParts } from './parts';

export interface QuotaLine {
  limit: number | string;
  used: number | string;
  remaining: number | string | null;
  percentage: number;
  resetsAt: string | null;
}

export interface QuotaStatus {
  plan: string;
  subject: { tenantId: string | null; userId: string | null };
  quotas: Record<string, Partial<Record<Period, QuotaLine>>>;
  userQuotas: Record<string, Partial<Record<Period, QuotaLine>>>;
  /** The API key's own caps (keyLimits and key overrides) when the call named a key; otherwise absent. */
  keyQuotas?: Record<string, Partial<Record<Period, QuotaLine>>>;
  anyExceeded: boolean;
}

/** `check()`'s answer: `remaining` is a USD decimal string for `cost`, else a count. */
export interface QuotaCheck {
  allowed: boolean;
  remaining: number | string | null;
}

/** Raw counters and effective limits of every meter for this subject. */
export async function readCounters(
  { ctx, seeder }: EngineParts,
  identity: Identity | ResolvedSubject,
): Promise<{ subject: ResolvedSubject; counters: CounterState[] }> {
  const subject = ctx.subjectOf(identity);
  const now = ctx.now();
  const result = await seeder.seeded(subject, () => ctx.store.read(ctx.readOp(subject, now)));
  return { subject, counters: result.counters };
}

function quotaLine(c: CounterState): QuotaLine {
  const unlimited = c.limit < 0;
  const remaining = unlimited ? null : Math.max(0, c.limit - c.used);
  return {
    limit: apiAmount(c.meter, c.limit),
    used: apiAmount(c.meter, c.used),
    remaining: remaining === null ? null : apiAmount(c.meter, remaining),
    percentage: percentage(c.used, c.limit),
    resetsAt: c.resetsAt === null ? null : new Date(c.resetsAt).toISOString(),
  };
}

/** Real-time quota status in the `/usage/quota` shape. */
export async function quotaStatus(
  parts: EngineParts,
  identity: Identity | ResolvedSubject,
): Promise<QuotaStatus> {
  const { subject, counters } = await readCounters(parts, identity);
  const quotas: QuotaStatus['quotas'] = {};
  const userQuotas: QuotaStatus['userQuotas'] = {};
  const keyQuotas: NonNullable<QuotaStatus['keyQuotas']> = {};
  let anyExceeded = false;
  for (const c of counters) {
    const target =
      c.scope === 'key'
        ? keyQuotas
        : c.scope === subject.owner.scope && c.id === subject.owner.id
          ? quotas
          : userQuotas;
    (target[c.meter] ??= {})[c.period] = quotaLine(c);
    if (c.limit >= 0 && c.used >= c.limit) anyExceeded = true;
  }
  return {
    plan: subject.plan,
    subject: { tenantId: subject.tenantId, userId: subject.userId },
    quotas,
    userQuotas,
    ...(subject.keyCap ? { keyQuotas } : {}),
    anyExceeded,
  };
}

/** A `check()` amount of a counted meter, or InvalidUsageError. */
function checkedAmount(meter: string, amount: number | string): number {
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0) {
    throw new InvalidUsageError(`amount for "${meter}" must be an integer >= 0, got ${String(amount)}`);
  }
  return amount;
}

/**
 * Whether `amount` more of `meter` fits, without consuming; `remaining` is the least left over every limit (null
 * when none limits it). `cost` is a USD decimal string both ways (`"0.01"`), as in every other API; any other
 * meter takes an integer >= 0.
 */
export async function checkRoom(
  parts: EngineParts,
  identity: Identity | ResolvedSubject,
  meter: string,
  amount: number | string,
): Promise<QuotaCheck> {
  if (!isConfiguredMeter(parts.ctx.config, meter)) throw new InvalidUsageError(`unknown meter "${meter}"`);
  if (meter === 'cost') return checkCost(parts, identity, amount);
  const wanted = checkedAmount(meter, amount);
  const { subject, counters } = await readCounters(parts, identity);
  let remaining: number | null = null;
  for (const c of counters) {
    if (c.meter !== meter || c.limit < 0) continue;
    const left = Math.max(0, c.limit - c.used);
    remaining = remaining === null ? left : Math.min(remaining, left);
  }
  // Requests are also refused while a budget they take nothing from is spent (see consume).
  const gated =
    meter === 'requests' && wanted > 0 && counters.some((c) => subject.gates.includes(c.meter) && isSpent(c));
  return { allowed: !gated && (remaining === null || wanted <= remaining), remaining };
}

/** `check` for `cost`: USD decimal strings, compared in exact pico-dollars (a float would round above $9007). */
async function checkCost(
  parts: EngineParts,
  identity: Identity | ResolvedSubject,
  amount: number | string,
): Promise<{ allowed: boolean; remaining: string | null }> {
  if (typeof amount !== 'string' || !isUsdAmount(amount)) {
    throw new InvalidUsageError(
      `amount for "cost" must be a USD decimal string with at most 12 decimals (e.g. "0.01"), got ${JSON.stringify(amount)}`,
    );
  }
  const wanted = usdToPico(amount);
  const { counters } = await readCounters(parts, identity);
  let remaining: bigint | null = null;
  for (const c of counters) {
    if (c.meter !== 'cost' || c.limit < 0) continue;
    const left = counterPico(c.limit) - counterPico(c.used);
    const room = left > 0n ? left : 0n;
    remaining = remaining === null || room < remaining ? room : remaining;
  }
  return {
    allowed: remaining === null || wanted <= remaining,
    remaining: remaining === null ? null : picoToUsd(remaining),
  };
}
