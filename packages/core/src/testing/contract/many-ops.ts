// The contract suite, many ops in one call (`applyMany`, optional): each op answered as if it had been applied
// alone, in order, and one op's refusal leaves the others alone. The engine sends the ops of one event-loop turn
// together, so concurrent calls of many subjects go through it.
/// <reference types="jest" />
import { coalesceApplies } from '../../store-coalescer';
import type { ApplyOp } from '../../store';
import { uniqueId, type ContractKit } from './kit';

/** Registers this group's cases; `kit` hands each case the store and clock of the running test. */
export function manyOpCases(kit: ContractKit): void {
  const { engine } = kit;

  it("admits concurrent requests of many subjects exactly up to each one's limit", async () => {
    const e = engine();
    const tenants = [uniqueId('t'), uniqueId('t'), uniqueId('t')];
    // 8 requests per tenant on `free` (5 a day), all issued in one turn, interleaved.
    const calls = Array.from({ length: 24 }, (_, i) =>
      e.consume({ tenantId: tenants[i % 3]!, plan: 'free' }, { requests: 1 }),
    );
    const results = await Promise.all(calls);
    for (let t = 0; t < 3; t++) {
      const mine = results.filter((_, i) => i % 3 === t);
      // In issue order: the first five fit, the rest are refused by the day limit.
      expect(mine.map((r) => r.admitted)).toEqual([true, true, true, true, true, false, false, false]);
      expect((await e.status({ tenantId: tenants[t]!, plan: 'free' })).quotas.requests?.day?.used).toBe(5);
    }
  });

  it('answers a repeated op id in the same call as a duplicate, applied once', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), plan: 'free' };
    const opId = uniqueId('op');
    const [first, again] = await Promise.all([
      e.consume(who, { requests: 1 }, { opId }),
      e.consume(who, { requests: 1 }, { opId }),
    ]);
    expect(first).toMatchObject({ admitted: true, duplicate: false });
    expect(again).toMatchObject({ admitted: true, duplicate: true });
    expect((await e.status(who)).quotas.requests?.day?.used).toBe(1);
  });

  it('applies the other ops of a call when one of them is malformed', async () => {
    const { store, clock } = kit.current();
    const e = engine();
    const many = store.applyMany;
    if (many === undefined) {
      // Without applyMany the engine sends every op on its own.
      expect(coalesceApplies(store)).toBe(store);
      return;
    }
    const op = (tenantId: string, costPico: string): ApplyOp => {
      const subject = e.resolve({ tenantId, plan: 'free' });
      const now = clock.now();
      return {
        opId: uniqueId('op'),
        tag: subject.tag,
        now,
        mode: 'record',
        scopes: subject.scopes,
        windows: e.windowsAt(now),
        limits: subject.limits,
        amounts: [{ meter: 'requests', amount: 2 }],
        usage: [
          { tenantId, userId: null, meter: 'requests', model: null, bucketStart: now, amount: 2, costPico },
        ],
        warnAt: [],
        seed: 'auto',
      };
    };
    const [a, b] = [uniqueId('t'), uniqueId('t')];
    const results = await many.call(store, [op(a, '0'), op(b, 'not a number'), op(a, '0')]);
    expect(results).toHaveLength(3);
    expect(results[0]).toMatchObject({ status: 'applied' });
    expect(results[1]).toBeInstanceOf(Error);
    expect(results[2]).toMatchObject({ status: 'applied' });
    expect((await e.status({ tenantId: a, plan: 'free' })).quotas.requests?.day?.used).toBe(4);
    expect((await e.status({ tenantId: b, plan: 'free' })).quotas.requests?.day?.used ?? 0).toBe(0);
  });
}
