import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../src';

const dir = mkdtempSync(path.join(tmpdir(), 'tg-config-'));
function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

const base = { plans: { free: { limits: { requests: { day: 10 } } } } };

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('loads YAML with defaults filled in', () => {
    const cfg = loadConfig(
      file(
        'ok.yaml',
        `
plans:
  free: { limits: { requests: { day: 1000 }, tokens: { day: 10000, month: 100000 } } }
  pro: { limits: { tokens: { day: -1 } } }
pricing:
  "openai/gpt-4o": { input: "2.50", output: "10.00", cacheRead: "1.25" }
`,
      ),
    );
    expect(cfg.subject).toBe('tenant');
    expect(cfg.timezone).toBe('UTC');
    expect(cfg.defaultPlan).toBe('free');
    expect(cfg.warnAt).toEqual([80, 90, 100]);
    expect(cfg.unpricedModel).toBe('flag');
    expect(cfg.plans.pro!.limits.tokens).toEqual({ day: -1 });
    expect(cfg.meters.requests).toEqual({ kind: 'counter' });
  });

  it('loads JSON, custom gauge meters and cost budgets in pico-dollars', () => {
    const cfg = loadConfig(
      file(
        'ok.json',
        JSON.stringify({
          meters: { storage_bytes: { kind: 'gauge' } },
          plans: { free: { limits: { storage_bytes: { total: 1073741824 }, cost: { month: '50.00' } } } },
        }),
      ),
    );
    expect(cfg.meters.storage_bytes).toEqual({ kind: 'gauge' });
    expect(cfg.plans.free!.limits.cost).toEqual({ month: 50_000_000_000_000 });
  });

  it('takes cost budgets past 2^53 pico-dollars (about $9007) and refuses ones no store can hold', () => {
    const big = parseConfig({ plans: { free: { limits: { cost: { month: '250000.00' } } } } });
    expect(big.plans.free!.limits.cost).toEqual({ month: 250_000_000_000_000_000 });
    const err = errorOf(() =>
      parseConfig({ plans: { free: { limits: { cost: { month: '10000000.000001' } } } } }),
    );
    expect(err.message).toContain('plans.free.limits.cost.month');
    expect(err.message).toContain('is too large');
  });

  const bad: Array<[string, unknown, RegExp]> = [
    [
      'a negative limit other than -1',
      { plans: { free: { limits: { tokens: { day: -5 } } } } },
      /plans\.free\.limits\.tokens\.day: must be an integer >= -1/,
    ],
    [
      'a non-integer limit',
      { plans: { free: { limits: { tokens: { day: 1.5 } } } } },
      /plans\.free\.limits\.tokens\.day: must be an integer >= -1/,
    ],
    [
      'a limit on an unknown meter',
      { plans: { free: { limits: { widgets: { day: 5 } } } } },
      /plans\.free\.limits\.widgets: unknown meter "widgets"/,
    ],
    [
      'an unknown period',
      { plans: { free: { limits: { tokens: { week: 5 } } } } },
      /plans\.free\.limits\.tokens\.week: unknown period "week"/,
    ],
    [
      'an unknown defaultPlan',
      { ...base, defaultPlan: 'gold' },
      /defaultPlan: "gold" is not one of the plans/,
    ],
    [
      'a bad timezone',
      { ...base, timezone: 'Mars/Olympus' },
      /timezone: unknown IANA timezone "Mars\/Olympus"/,
    ],
    [
      'a price with 7 decimals',
      { ...base, pricing: { x: { input: '0.1234567', output: '1' } } },
      /pricing\.x\.input: must be a non-negative decimal string with at most 6 decimals/,
    ],
    [
      'a negative price',
      { ...base, pricing: { x: { input: '-1', output: '1' } } },
      /pricing\.x\.input: must be a non-negative decimal/,
    ],
    [
      'a price given as a number',
      { ...base, pricing: { x: { input: 2.5, output: '1' } } },
      /pricing\.x\.input: must be a decimal string/,
    ],
    [
      'a bad custom meter name',
      { ...base, meters: { 'Bad-Name': { kind: 'counter' } } },
      /meters\.Bad-Name: meter names match/,
    ],
    [
      'an unknown meter kind',
      { ...base, meters: { uploads: { kind: 'histogram' } } },
      /meters\.uploads\.kind: /,
    ],
    ['an unknown top-level key', { ...base, plan: {} }, /Unrecognized key\(s\) in object: 'plan'/],
    [
      'userLimits for an unknown plan',
      { ...base, userLimits: { gold: { tokens: { day: 5 } } } },
      /userLimits\.gold: unknown plan "gold"/,
    ],
    [
      'a bad cost budget',
      { plans: { free: { limits: { cost: { month: '12.3456789' } } } } },
      /plans\.free\.limits\.cost\.month: must be a USD amount/,
    ],
    ['no plans at all', { plans: {} }, /plans: at least one plan is required/],
    ['a warnAt over 100', { ...base, warnAt: [80, 120] }, /warnAt\.1: must be a percentage from 1 to 100/],
    ['a bad unpricedModel policy', { ...base, unpricedModel: 'ignore' }, /unpricedModel: /],
    [
      'a webhook without a usable secret',
      { ...base, webhooks: [{ url: 'http://127.0.0.1:9/x', secret: 'short' }] },
      /webhooks\.0\.secret: must be at least 16 characters/,
    ],
  ];

  it.each(bad)('rejects %s with exactly one ConfigError naming the path', (_name, input, message) => {
    const err = errorOf(() => parseConfig(input));
    expect(err.code).toBe('ERR_TOLLGATE_CONFIG');
    expect(err.message).toMatch(message);
    expect(err.issues.length).toBe(1);
  });

  it('rejects a YAML syntax error naming the file', () => {
    const err = errorOf(() => loadConfig(file('broken.yaml', 'plans:\n  free: { limits: [\n')));
    expect(err.message).toMatch(/cannot parse broken\.yaml/);
  });

  it('rejects a missing file naming the path', () => {
    const err = errorOf(() => loadConfig(path.join(dir, 'nope.yaml')));
    expect(err.message).toMatch(/cannot read config file .*nope\.yaml/);
  });
});
