// Regression: meter and plan names were looked up with `in` and plain-object indexing, so names every object
// inherits (`__proto__`, `constructor`, `toString`) passed as configured meters: check() answered for them,
// setOverride() kept them, and a config naming them as meters or plans was taken (or silently emptied).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTollgate } from '../../src';
import {
  ConfigError,
  InvalidUsageError,
  MemoryStore,
  QuotaEngine,
  loadConfig,
  parseConfig,
} from '@tollgate/core';
import { isConfiguredMeter } from '@tollgate/core/internal';

const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];

const config = parseConfig({ plans: { free: { limits: { requests: { day: 10 } } } } });

function configError(input: unknown): ConfigError {
  try {
    parseConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('meter names from outside are configured meters, never prototype names', () => {
  const engine = new QuotaEngine({ store: new MemoryStore(), config });
  const who = { tenantId: 't-proto' };

  it.each(PROTOTYPE_NAMES)('isConfiguredMeter(%j) is false', (name) => {
    expect(isConfiguredMeter(config, name)).toBe(false);
  });

  it.each(PROTOTYPE_NAMES)('check() of %j is an unknown meter', async (name) => {
    await expect(engine.check(who, name, 1)).rejects.toThrow(InvalidUsageError);
    await expect(engine.check(who, name, 1)).rejects.toThrow(`unknown meter "${name}"`);
  });

  it.each(PROTOTYPE_NAMES)('consume() and record() of %j are refused', async (name) => {
    await expect(engine.consume(who, { [name]: 1 })).rejects.toThrow(`unknown meter "${name}"`);
    await expect(engine.record(who, [{ meter: name, amount: 1 }])).rejects.toThrow(InvalidUsageError);
  });

  it.each(PROTOTYPE_NAMES)('setOverride() of %j is refused', async (name) => {
    await expect(engine.setOverride({ scope: 'tenant', id: 't-proto' }, name, 'day', 5)).rejects.toThrow(
      `unknown meter "${name}"`,
    );
  });

  it('a consume() of JSON naming __proto__ as a meter is refused (an own property, as JSON.parse makes it)', async () => {
    const amounts = JSON.parse('{"requests": 1, "__proto__": 5}') as Record<string, number>;
    await expect(engine.consume(who, amounts)).rejects.toThrow('unknown meter "__proto__"');
  });
});

describe('createTollgate(): check, consume, enforceQuota and record of an inherited name are refused', () => {
  const tollgate = createTollgate({ store: new MemoryStore(), config });
  const who = { tenantId: 't-proto-api' };
  afterAll(() => tollgate.close());

  it.each(PROTOTYPE_NAMES)('%j', async (name) => {
    await expect(tollgate.check(who, name, 1)).rejects.toThrow(InvalidUsageError);
    await expect(tollgate.consume(who, { [name]: 1 })).rejects.toThrow(InvalidUsageError);
    await expect(tollgate.enforceQuota(who, name, 1)).rejects.toThrow(InvalidUsageError);
    await expect(tollgate.record(who, name, 1)).rejects.toThrow(InvalidUsageError);
    expect((await tollgate.status(who)).quotas.requests?.day?.used).toBe(0);
  });
});

describe('config: prototype names as meters or plans are config errors', () => {
  // JSON.parse and YAML make `__proto__` an own key; zod dropped it without a word (a plan or limit vanished).
  it.each([
    ['plans.free.limits.__proto__', '{"plans":{"free":{"limits":{"__proto__":{"day":5}}}}}'],
    ['plans.__proto__', '{"plans":{"free":{"limits":{}},"__proto__":{"limits":{}}}}'],
    ['meters.__proto__', '{"plans":{"free":{"limits":{}}},"meters":{"__proto__":{"kind":"gauge"}}}'],
    ['userLimits.__proto__', '{"plans":{"free":{"limits":{}}},"userLimits":{"__proto__":{}}}'],
    ['plans.free.limits.requests.__proto__', '{"plans":{"free":{"limits":{"requests":{"__proto__":5}}}}}'],
  ])('a "__proto__" key at %s is a config error', (path, text) => {
    expect(configError(JSON.parse(text)).issues).toEqual([
      { path, message: '"__proto__" is not a valid name' },
    ]);
  });

  it.each(PROTOTYPE_NAMES.filter((n) => n !== '__proto__'))(
    'a limit on meter %j is an unknown meter',
    (name) => {
      const input = JSON.parse(`{"plans":{"free":{"limits":{${JSON.stringify(name)}:{"day":5}}}}}`);
      const err = configError(input);
      expect(err.issues).toContainEqual({
        path: `plans.free.limits.${name}`,
        message: `unknown meter "${name}" (not built in, not under meters)`,
      });
    },
  );

  it.each(PROTOTYPE_NAMES)('a custom meter named %j is refused', (name) => {
    const input = JSON.parse(
      `{"plans":{"free":{"limits":{}}},"meters":{${JSON.stringify(name)}:{"kind":"gauge"}}}`,
    );
    expect(configError(input).issues.map((i) => i.path)).toContain(`meters.${name}`);
  });

  it.each(PROTOTYPE_NAMES)('a plan named %j is refused', (name) => {
    const input = JSON.parse(`{"plans":{"free":{"limits":{}},${JSON.stringify(name)}:{"limits":{}}}}`);
    expect(configError(input).issues.map((i) => i.path)).toContain(`plans.${name}`);
  });

  it('a YAML config file with a __proto__ plan is refused, naming the file and the key', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'tg-proto-')), 'tollgate.yaml');
    writeFileSync(
      file,
      'plans:\n  free: { limits: {} }\n  __proto__: { limits: { requests: { day: 1 } } }\n',
    );
    expect(() => loadConfig(file)).toThrow(
      `Invalid Tollgate config in ${file}: plans.__proto__: "__proto__" is not a valid name`,
    );
  });

  it.each(PROTOTYPE_NAMES)('defaultPlan %j is not one of the plans', (name) => {
    const err = configError({ plans: { free: { limits: {} } }, defaultPlan: name });
    expect(err.issues.map((i) => i.path)).toEqual(['defaultPlan']);
  });

  it.each(PROTOTYPE_NAMES.filter((n) => n !== '__proto__'))(
    'userLimits of plan %j is an unknown plan',
    (name) => {
      const input = JSON.parse(`{"plans":{"free":{"limits":{}}},"userLimits":{${JSON.stringify(name)}:{}}}`);
      expect(configError(input).issues).toContainEqual({
        path: `userLimits.${name}`,
        message: `unknown plan "${name}"`,
      });
    },
  );

  it('an identity naming a prototype name as its plan gets the default plan', () => {
    const engine = new QuotaEngine({ store: new MemoryStore(), config });
    for (const name of PROTOTYPE_NAMES) {
      const s = engine.resolve({ tenantId: 't', userId: 'u', plan: name });
      expect(s).toMatchObject({ plan: 'free', unknownPlan: true });
    }
  });
});
