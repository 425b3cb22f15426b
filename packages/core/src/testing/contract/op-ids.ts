// The contract suite, operation ids (step 3 of `apply`): an id is applied at most once, and a retried refusal
// names what refused it.
/// <reference types="jest" />
import { uniqueId, type ContractKit } from './kit';

/** Registers this group's cases; `kit` hands each case the store and clock of the running test. */
export function opIdCases(kit: ContractKit): void {
  const { engine } = kit;

  it('applies an operation id at most once', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), plan: 'free' };
    const first = await e.consume(who, { requests: 1 }, { opId: 'op-1' });
    const again = await e.consume(who, { requests: 1 }, { opId: 'op-1' });
    expect(first).toMatchObject({ admitted: true, duplicate: false });
    expect(again).toMatchObject({ admitted: true, duplicate: true });
    await e.record(who, [{ meter: 'storage_bytes', amount: 10 }], { opId: 'op-2' });
    const dup = await e.record(who, [{ meter: 'storage_bytes', amount: 10 }], { opId: 'op-2' });
    expect(dup.duplicate).toBe(true);
    const status = await e.status(who);
    expect(status.quotas.requests?.day?.used).toBe(1);
    expect(status.quotas.storage_bytes?.total?.used).toBe(10);
  });

  it('answers a retried refused op id with the gate that refused it', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), plan: 'free' };
    await e.record(who, [{ meter: 'tokens', amount: 5000 }]);
    const opId = uniqueId('op');
    const first = await e.consume(who, { requests: 1 }, { opId });
    const retry = await e.consume(who, { requests: 1 }, { opId });
    if (first.admitted || retry.admitted) throw new Error('expected both to be refused');
    expect(retry.duplicate).toBe(true);
    expect(retry.violation).toMatchObject({ meter: 'tokens', period: 'day', limit: 5000, used: 5000 });
  });
}
