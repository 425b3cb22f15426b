// The Tollgate config: zod schema, defaults, semantic checks, and loading from JSON/YAML files.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors';
import { BUILTIN_METERS, METER_NAME, isPrototypeName, type MeterKind } from './meters';
import { picoLimit, usdToPico } from './money';
import { PERIODS, isValidTimeZone, type Period } from './periods';
import { perTokenPico, type PriceInput, type UnpricedPolicy } from './pricing';

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

const decimalPrice = z
  .string({ invalid_type_error: 'must be a decimal string such as "2.50"' })
  .refine((s) => {
    try {
      perTokenPico(s);
      return true;
    } catch {
      return false;
    }
  }, 'must be a non-negative decimal string with at most 6 decimals (USD per 1M tokens)');

const priceSchema = z
  .object({
    input: decimalPrice,
    output: decimalPrice,
    cacheRead: decimalPrice.optional(),
    cacheWrite: decimalPrice.optional(),
  })
  .strict();

const periodLimits = z.record(z.string(), z.union([z.number(), z.string()]));
const limitTable = z.record(z.string(), periodLimits);

const rawSchema = z
  .object({
    subject: z.enum(['tenant', 'user']).default('tenant'),
    timezone: z.string().default('UTC'),
    defaultPlan: z.string().default('free'),
    warnAt: z
      .array(z.number().int().min(1).max(100, 'must be a percentage from 1 to 100'))
      .default([80, 90, 100]),
    meters: z
      .record(z.string(), z.object({ kind: z.enum(['counter', 'gauge']).default('counter') }).strict())
      .default({}),
    plans: z.record(z.string(), z.object({ limits: limitTable.default({}) }).strict()),
    userLimits: z.record(z.string(), limitTable).default({}),
    keyLimits: z.record(z.string(), limitTable).default({}),
    pricing: z.record(z.string(), priceSchema).default({}),
    unpricedModel: z.enum(['allow', 'flag', 'block']).default('flag'),
    webhooks: z
      .array(
        z
          .object({
            url: z.string().url(),
            events: z
              .array(z.enum(['threshold', 'quota_exceeded', 'override_set']))
              .default(['threshold', 'quota_exceeded']),
            secret: z.string().min(16, 'must be at least 16 characters'),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

export type TollgateConfigInput = z.input<typeof rawSchema>;

type Issue = { path: string; message: string };

function joinPath(parts: ReadonlyArray<string | number>): string {
  return parts.map(String).join('.');
}

/**
 * Converts one limit value to store units (`cost` in USD to pico-dollars), or returns why it is not a limit: the
 * one reading of a limit, for the config file and the admin API alike.
 */
export function parseLimit(meter: string, value: number | string): number | string {
  if (meter === 'cost') {
    if (value === -1 || value === '-1') return -1;
    const text = typeof value === 'number' ? String(value) : value;
    let pico: bigint;
    try {
      pico = usdToPico(text, 6);
    } catch {
      return 'must be a USD amount such as "50.00" (at most 6 decimals) or -1 for unlimited';
    }
    return picoLimit(pico) ?? 'is too large';
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < -1) {
    return 'must be an integer >= -1 (-1 = unlimited)';
  }
  if (!Number.isSafeInteger(value)) return 'is too large';
  return value;
}

function checkLimitTable(
  table: Record<string, Record<string, number | string>>,
  at: string,
  meters: Record<string, unknown>,
  issues: Issue[],
): LimitTable {
  const out: LimitTable = Object.create(null) as LimitTable;
  for (const [meter, periods] of Object.entries(table)) {
    if (!Object.hasOwn(meters, meter)) {
      issues.push({
        path: `${at}.${meter}`,
        message: `unknown meter "${meter}" (not built in, not under meters)`,
      });
      continue;
    }
    if (meter === 'rejected') {
      issues.push({
        path: `${at}.${meter}`,
        message: 'rejected requests never count against a quota; remove this limit',
      });
      continue;
    }
    const limits = Object.create(null) as Partial<Record<Period, number>>;
    for (const [period, raw] of Object.entries(periods)) {
      const p = `${at}.${meter}.${period}`;
      if (!(PERIODS as readonly string[]).includes(period)) {
        issues.push({ path: p, message: `unknown period "${period}" (use ${PERIODS.join(', ')})` });
        continue;
      }
      const parsed = parseLimit(meter, raw);
      if (typeof parsed === 'string') issues.push({ path: p, message: parsed });
      else limits[period as Period] = parsed;
    }
    out[meter] = limits;
  }
  return out;
}

// Configs made by parseConfig/loadConfig: options that take "a parsed config or a plain object" use these as they
// are and validate everything else.
const parsedConfigs = new WeakSet<object>();

/** True for a config returned by `parseConfig` / `loadConfig` (already validated). */
export function isParsedConfig(c: unknown): c is TollgateConfig {
  return typeof c === 'object' && c !== null && parsedConfigs.has(c);
}

/** Every own `__proto__` key in `value` (JSON.parse and YAML make them; zod would drop them without a word). */
function protoKeys(value: unknown, at: string[], out: Issue[]): Issue[] {
  if (typeof value !== 'object' || value === null) return out;
  for (const key of Object.keys(value)) {
    const path = [...at, key];
    if (key === '__proto__') out.push({ path: joinPath(path), message: '"__proto__" is not a valid name' });
    else protoKeys((value as Record<string, unknown>)[key], path, out);
  }
  return out;
}

/** Validates a config object and fills in defaults. Throws one ConfigError listing every problem. */
export function parseConfig(input: unknown, source?: string): TollgateConfig {
  const protos = protoKeys(input, [], []);
  if (protos.length > 0) throw new ConfigError(protos, { source });
  const parsed = rawSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ path: joinPath(i.path), message: i.message })),
      { source },
    );
  }
  const raw = parsed.data;
  const issues: Issue[] = [];
  // Null-prototype tables: a name from outside (a request, a JWT) finds only what the config holds.
  const meters = Object.create(null) as Record<string, { kind: MeterKind }>;
  for (const m of BUILTIN_METERS) meters[m] = { kind: 'counter' };
  for (const [name, def] of Object.entries(raw.meters)) {
    if (!METER_NAME.test(name))
      issues.push({ path: `meters.${name}`, message: 'meter names match [a-z][a-z0-9_]{0,63}' });
    else if (isPrototypeName(name))
      issues.push({ path: `meters.${name}`, message: `"${name}" is a name every JavaScript object has` });
    else if (Object.hasOwn(meters, name))
      issues.push({ path: `meters.${name}`, message: `"${name}" is a built-in meter` });
    else meters[name] = { kind: def.kind };
  }
  if (!isValidTimeZone(raw.timezone))
    issues.push({ path: 'timezone', message: `unknown IANA timezone "${raw.timezone}"` });
  if (Object.keys(raw.plans).length === 0)
    issues.push({ path: 'plans', message: 'at least one plan is required' });
  else if (!Object.hasOwn(raw.plans, raw.defaultPlan)) {
    issues.push({
      path: 'defaultPlan',
      message: `"${raw.defaultPlan}" is not one of the plans (${Object.keys(raw.plans).join(', ')})`,
    });
  }
  const plans = Object.create(null) as Record<string, { limits: LimitTable }>;
  for (const [name, plan] of Object.entries(raw.plans)) {
    if (isPrototypeName(name)) {
      issues.push({ path: `plans.${name}`, message: `"${name}" is a name every JavaScript object has` });
      continue;
    }
    plans[name] = { limits: checkLimitTable(plan.limits, `plans.${name}.limits`, meters, issues) };
  }
  const userLimits = Object.create(null) as Record<string, LimitTable>;
  for (const [plan, table] of Object.entries(raw.userLimits)) {
    if (!Object.hasOwn(plans, plan))
      issues.push({ path: `userLimits.${plan}`, message: `unknown plan "${plan}"` });
    userLimits[plan] = checkLimitTable(table, `userLimits.${plan}`, meters, issues);
  }
  const keyLimits = Object.create(null) as Record<string, LimitTable>;
  for (const [plan, table] of Object.entries(raw.keyLimits)) {
    if (!Object.hasOwn(plans, plan))
      issues.push({ path: `keyLimits.${plan}`, message: `unknown plan "${plan}"` });
    keyLimits[plan] = checkLimitTable(table, `keyLimits.${plan}`, meters, issues);
  }
  if (issues.length > 0) throw new ConfigError(issues, { source });
  const config: TollgateConfig = {
    subject: raw.subject,
    timezone: raw.timezone,
    defaultPlan: raw.defaultPlan,
    warnAt: [...new Set(raw.warnAt)].sort((a, b) => a - b),
    meters,
    plans,
    userLimits,
    keyLimits,
    pricing: raw.pricing,
    unpricedModel: raw.unpricedModel,
    webhooks: raw.webhooks as WebhookConfig[],
  };
  parsedConfigs.add(config);
  return config;
}

/** True when `name` is one of the config's meters (built in or custom); inherited names never are. */
export function isConfiguredMeter(config: Pick<TollgateConfig, 'meters'>, name: string): boolean {
  return Object.hasOwn(config.meters, name);
}

/** Reads a JSON or YAML config file (by extension; YAML otherwise), or validates an object. */
export function loadConfig(source: string | TollgateConfigInput): TollgateConfig {
  if (typeof source !== 'string') return parseConfig(source);
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (err) {
    throw new ConfigError(
      [{ path: '', message: `cannot read config file ${source}: ${(err as Error).message}` }],
      { cause: err },
    );
  }
  let data: unknown;
  try {
    data = path.extname(source).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(
      [{ path: '', message: `cannot parse ${path.basename(source)}: ${(err as Error).message}` }],
      {
        cause: err,
      },
    );
  }
  return parseConfig(data, source);
}
