// An op id is an idempotency key: a retry of a rejected call is rejected again, naming the limit it passes.
import { createTollgate } from '../../src';
import { MemoryStore, QuotaExceededError, parseConfig } from '@tollgate/core';

const config = parseConfig({
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'free',
  meters: { file_uploads: { kind: 'counter' } },
  plans: { free: { limits: { file_uploads: { day: 1 } } } },
});

async function rejection(p: Promise<unknown>): Promise<QuotaExceededError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(QuotaExceededError);
  return err as QuotaExceededError;
}

describe('a call retried with the op id of a rejected one', () => {
  it('is rejected again with the same status, limit and reset', async () => {
    const tollgate = createTollgate({ store: new MemoryStore(), config });
    const who = { tenantId: 't-retry' };
    await tollgate.enforceQuota(who, 'file_uploads', 1);
    const first = await rejection(tollgate.enforceQuota(who, 'file_uploads', 1, { opId: 'job-42' }));
    const retry = await rejection(tollgate.enforceQuota(who, 'file_uploads', 1, { opId: 'job-42' }));
    expect(first.status).toBe(429);
    expect(retry.status).toBe(first.status);
    expect(retry.problem).toMatchObject({ meter: 'file_uploads', period: 'day', limit: 1, used: 1 });
    // The same reset, seen a moment later (the two calls may straddle a second).
    expect(first.retryAfter! - retry.retryAfter!).toBeGreaterThanOrEqual(0);
    expect(first.retryAfter! - retry.retryAfter!).toBeLessThanOrEqual(1);
    await tollgate.close();
  });

  it('counts once in shadow mode, where the over-limit call is recorded instead of refused', async () => {
    const tollgate = createTollgate({ store: new MemoryStore(), config, mode: 'shadow' });
    const who = { tenantId: 't-shadow-retry' };
    await tollgate.enforceQuota(who, 'file_uploads', 1);
    const answers = [];
    for (let i = 0; i < 3; i++)
      answers.push(await tollgate.enforceQuota(who, 'file_uploads', 2, { opId: 'job-7' }));
    expect(answers.map((a) => [a.admitted, a.duplicate])).toEqual([
      [true, false],
      [true, true],
      [true, true],
    ]);
    const status = await tollgate.status(who);
    expect(status.quotas.file_uploads?.day).toMatchObject({ used: 3, limit: 1 });
    await tollgate.close();
  });
});
