// The parsed Tollgate config: what the engine, the stores' callers and the apps read.
import type { MeterKind } from '../meters';
import type { Period } from '../periods';
import type { PriceInput, UnpricedPolicy } from '../pricing';

/** Limits of one plan or user cap: meter -> period -> limit (-1 = unlimited). Cost limits are in pico-dollars. */
export type LimitTable = Record<string, Partial<Record<Period, number>>>;

export interface WebhookConfig {
  url: string;
  events: Array<'threshold' | 'quota_exceeded' | 'override_set'>;
  secret: string;
}

export interface TollgateConfig {
  /** Quota owner: `tenant` when the request has one (else the user), or always `user`. Defaults to `tenant`. */
  subject: 'tenant' | 'user';
  /** IANA timezone of the day and month calendars. Defaults to `UTC`. */
  timezone: string;
  /** Plan for a subject whose tier is unknown or missing. Defaults to `free`. */
  defaultPlan: string;
  /** Percent thresholds that fire once per subject, meter, period. Defaults to `[80, 90, 100]`. */
  warnAt: number[];
  /** Every meter, built-in and custom, with its kind. */
  meters: Record<string, { kind: MeterKind }>;
  plans: Record<string, { limits: LimitTable }>;
  /** Per-user caps inside a tenant, by plan. Defaults to none. */
  userLimits: Record<string, LimitTable>;
  /** Per-API-key caps, by the plan (tier) of the key: beside the tenant's and user's limits. Defaults to none. */
  keyLimits: Record<string, LimitTable>;
  /** USD per 1M tokens by pricing key. Defaults to none. */
  pricing: Record<string, PriceInput>;
  /** What to do with a model no price matches. Defaults to `flag`. */
  unpricedModel: UnpricedPolicy;
  webhooks: WebhookConfig[];
}
