// Validating a config object: the schema, then semantic checks (meters, plans, limits), each problem named.
import { ConfigError } from '../errors';
import { BUILTIN_METERS, METER_NAME, isPrototypeName, type MeterKind } from '../meters';
import { isValidTimeZone } from '../periods';
import { checkLimitTable, type Issue } from './limits';
import { rawSchema } from './schema';
import type { LimitTable, TollgateConfig, WebhookConfig } from './types';

function joinPath(parts: ReadonlyArray<string | number>): string {
  return parts.map(String).join('.');
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
