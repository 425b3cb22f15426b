// A programmatic consume(..., { reserve }) is ended with settleReservation(): the estimate becomes what was used.
import { createTollgate } from '../../src';
import { InvalidUsageError, MemoryStore, parseConfig } from '@tollgate/core';

const config = parseConfig({
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'free',
  plans: { free: { limits: { tokens: { day: 1000 } } } },
  pricing: { 'gpt-4o': { input: '2.50', output: '10.00' } },
});

describe('settleReservation()', () => {
  it('replaces the reserved estimate with the usage, once however often it is retried', async () => {
    const tollgate = createTollgate({ store: new MemoryStore(), config });
    const who = { tenantId: 't-settle' };
    const admission = await tollgate.consume(who, {}, { reserve: { tokens: 800 } });
    expect(admission.admitted).toBe(true);
    const id = admission.reservationId!;
    expect((await tollgate.status(who)).quotas.tokens?.day?.used).toBe(800);
    // The estimate holds the budget: another 500 does not fit.
    expect((await tollgate.consume(who, {}, { reserve: { tokens: 500 } })).admitted).toBe(false);
    const used = [{ meter: 'input_tokens', amount: 100, model: 'gpt-4o' }];
    const first = await tollgate.settleReservation(who, id, used);
    const retry = await tollgate.settleReservation(who, id, used);
    expect([first.duplicate, retry.duplicate]).toEqual([false, true]);
    expect((await tollgate.status(who)).quotas.tokens?.day?.used).toBe(100);
    expect((await tollgate.consume(who, {}, { reserve: { tokens: 500 } })).admitted).toBe(true);
    await tollgate.close();
  });

  it('releases the whole estimate when nothing was used', async () => {
    const tollgate = createTollgate({ store: new MemoryStore(), config });
    const who = { tenantId: 't-release' };
    const admission = await tollgate.consume(who, {}, { reserve: { tokens: 600 } });
    await tollgate.settleReservation(who, admission.reservationId!, []);
    expect((await tollgate.status(who)).quotas.tokens?.day?.used).toBe(0);
    await tollgate.close();
  });

  it('refuses a missing reservation id (a degraded consume has none) instead of sharing one op id', async () => {
    const tollgate = createTollgate({ store: new MemoryStore(), config });
    const who = { tenantId: 't-none' };
    for (const id of [null, undefined, '']) {
      await expect(
        tollgate.settleReservation(who, id as unknown as string, [{ meter: 'tokens', amount: 1 }]),
      ).rejects.toBeInstanceOf(InvalidUsageError);
    }
    await tollgate.close();
  });

  it('gives a consume retried with its op id the same reservation to settle', async () => {
    const tollgate = createTollgate({ store: new MemoryStore(), config });
    const who = { tenantId: 't-retried' };
    const first = await tollgate.consume(who, {}, { reserve: { tokens: 800 }, opId: 'job-1' });
    const retry = await tollgate.consume(who, {}, { reserve: { tokens: 800 }, opId: 'job-1' });
    expect([retry.duplicate, retry.reservationId]).toEqual([true, first.reservationId]);
    await tollgate.settleReservation(who, retry.reservationId!, [{ meter: 'tokens', amount: 100 }]);
    expect((await tollgate.status(who)).quotas.tokens?.day?.used).toBe(100);
    await tollgate.close();
  });
});
