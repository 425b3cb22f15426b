// check(): the same units and the same input rules as the rest of the API (cost as USD decimal strings).
import { createTollgate } from '../../src';
import { InvalidUsageError, MemoryStore, parseConfig } from '@tollgate/core';

const config = parseConfig({
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'free',
  plans: { free: { limits: { requests: { day: 10 }, cost: { month: '50.00' } } } },
  pricing: { 'gpt-4o': { input: '2.50', output: '10.00' } },
});

describe('check()', () => {
  const tollgate = createTollgate({ store: new MemoryStore(), config });
  const who = { tenantId: 't-check' };
  afterAll(() => tollgate.close());

  it('takes and answers cost as USD decimal strings, as status() shows it', async () => {
    // 4000 input tokens at $2.50/M = $0.01.
    await tollgate.record(who, 'input_tokens', 4000, { model: 'gpt-4o' });
    const status = await tollgate.status(who);
    expect(status.quotas.cost?.month?.remaining).toBe('49.990000');
    await expect(tollgate.check(who, 'cost', '0.01')).resolves.toEqual({
      allowed: true,
      remaining: '49.990000',
    });
    await expect(tollgate.check(who, 'cost', '49.990000000001')).resolves.toEqual({
      allowed: false,
      remaining: '49.990000',
    });
    await expect(tollgate.check(who, 'cost')).resolves.toEqual({ allowed: true, remaining: '49.990000' });
  });

  it.each([
    ['requests', -1],
    ['requests', 1.5],
    ['requests', '3'],
    ['requests', Number.NaN],
    ['requests', Number.POSITIVE_INFINITY],
    ['cost', 1],
    ['cost', '-1'],
    ['cost', '0.0000000000001'],
    ['cost', ' 0.5 '],
    ['widgets', 1],
  ])('rejects %s amount %p with InvalidUsageError', async (meter, amount) => {
    await expect(tollgate.check(who, meter, amount as number)).rejects.toBeInstanceOf(InvalidUsageError);
  });

  it('still answers counts for every other meter', async () => {
    await expect(tollgate.check(who, 'requests', 10)).resolves.toEqual({ allowed: true, remaining: 10 });
    await expect(tollgate.check(who, 'requests', 11)).resolves.toEqual({ allowed: false, remaining: 10 });
  });

  it('compares cost exactly above 2^53 pico-dollars ($9007.20)', async () => {
    const big = createTollgate({
      store: new MemoryStore(),
      config: parseConfig({
        defaultPlan: 'free',
        plans: { free: { limits: { cost: { month: '10000.00' } } } },
      }),
    });
    const whale = { tenantId: 't-whale' };
    await expect(big.check(whale, 'cost', '10000.000000000001')).resolves.toEqual({
      allowed: false,
      remaining: '10000.000000',
    });
    await expect(big.check(whale, 'cost', '10000')).resolves.toEqual({
      allowed: true,
      remaining: '10000.000000',
    });
    await big.close();
  });
});
