import { decodeUsage, usageField } from '@tollgate/redis/internal';
import type { UsageDelta } from '@tollgate/core';

describe('unflushed usage decoding', () => {
  it('rebuilds every dimension and keeps pico-dollar costs exact beyond 2^53', () => {
    const d: UsageDelta = {
      tenantId: 'acme',
      userId: null,
      meter: 'input_tokens',
      model: 'gpt-4o',
      bucketStart: 1767225600000,
      amount: 0,
      costPico: '0',
      estimated: true,
    };
    const field = usageField(d);
    const out = decodeUsage([`a${field}`, '1200', `c${field}`, '18014398509481986123']);
    expect(out).toEqual([{ ...d, amount: 1200, costPico: '18014398509481986123' }]);
  });

  it('reports cost 0 for a delta that never carried a cost, and keeps null ids and models apart from empty ones', () => {
    const d: UsageDelta = {
      tenantId: null,
      userId: 'bob',
      meter: 'requests',
      model: null,
      bucketStart: 0,
      amount: 0,
      costPico: '0',
    };
    const other = { ...d, model: '' };
    const out = decodeUsage([`a${usageField(d)}`, '3', `a${usageField(other)}`, '4']);
    expect(out).toEqual([
      { ...d, amount: 3 },
      { ...other, amount: 4 },
    ]);
  });
});
