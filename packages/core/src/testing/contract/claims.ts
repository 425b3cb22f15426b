// The contract suite, the flush path (`claim`/`ack`): unflushed usage claimed once, stale claims re-issued under
// their id, keys kept apart.
/// <reference types="jest" />
import type { CounterStore } from '../../store';
import { sumUsage, uniqueId, type TestClock, type ContractKit } from './kit';

/** Registers this group's cases; `kit` hands each case the store and clock of the running test. */
export function claimCases(kit: ContractKit): void {
  let store: CounterStore;
  let clock: TestClock;
  const { engine } = kit;
  beforeEach(() => {
    ({ store, clock } = kit.current());
  });

  it('hands unflushed usage to one claim, re-issues a stale claim under the same batch id, forgets it once acked', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), userId: 'u1', plan: 'free' };
    for (let i = 0; i < 3; i++) await e.consume(who, { requests: 1 });
    await e.record(who, [{ meter: 'input_tokens', amount: 1000, model: 'demo-model' }]);
    for (let i = 0; i < 3; i++) await e.consume(who, { requests: 1 }); // the 6th is rejected
    const now = clock.now();
    const first = (await store.claim({ now, maxTags: 1000, staleAfterMs: 60_000 })).filter(
      (b) => b.tag === `t:${who.tenantId}`,
    );
    expect(first.length).toBe(1);
    expect(sumUsage(first, 'requests')).toBe(5);
    expect(sumUsage(first, 'rejected')).toBe(1);
    expect(sumUsage(first, 'input_tokens')).toBe(1000);
    expect(sumUsage(first, 'tokens')).toBe(1000);
    const tokenRow = first[0]!.usage.find((u) => u.meter === 'input_tokens')!;
    expect(tokenRow).toMatchObject({
      tenantId: who.tenantId,
      userId: 'u1',
      model: 'demo-model',
      costPico: '1000000000',
    });
    expect(first[0]!.usage.find((u) => u.meter === 'tokens')!.costPico).toBe('0');
    // Nothing new: the next claim has nothing for this tag.
    const none = (await store.claim({ now, maxTags: 1000, staleAfterMs: 60_000 })).filter(
      (b) => b.tag === `t:${who.tenantId}`,
    );
    expect(none).toEqual([]);
    // Usage arriving after the claim lands in a later batch.
    await e.record(who, [{ meter: 'output_tokens', amount: 7 }]);
    clock.advance(61_000);
    const later = (await store.claim({ now: clock.now(), maxTags: 1000, staleAfterMs: 60_000 })).filter(
      (b) => b.tag === `t:${who.tenantId}`,
    );
    const stale = later.find((b) => b.batchId === first[0]!.batchId);
    expect(stale).toBeDefined();
    expect(sumUsage([stale!], 'requests')).toBe(5);
    const fresh = later.filter((b) => b.batchId !== first[0]!.batchId);
    expect(sumUsage(fresh, 'output_tokens')).toBe(7);
    await store.ack(later);
    await store.ack(later);
    clock.advance(61_000);
    const after = (await store.claim({ now: clock.now(), maxTags: 1000, staleAfterMs: 60_000 })).filter(
      (b) => b.tag === `t:${who.tenantId}`,
    );
    expect(after).toEqual([]);
  });

  it('keeps the API key of usage apart in what the flusher claims, and no key on usage without one', async () => {
    const e = engine();
    const tenantId = uniqueId('t');
    const key = uniqueId('key');
    await e.consume({ tenantId, userId: 'u', plan: 'big', apiKeyId: key }, { requests: 1 });
    await e.record({ tenantId, userId: 'u', plan: 'big', apiKeyId: key }, [
      { meter: 'input_tokens', amount: 7 },
    ]);
    await e.consume({ tenantId, userId: 'u', plan: 'big' }, { requests: 1 });
    const batches = (await store.claim({ now: clock.now(), maxTags: 1000, staleAfterMs: 60_000 })).filter(
      (b) => b.tag === `t:${tenantId}`,
    );
    const usage = batches.flatMap((b) => b.usage);
    const requests = usage.filter((u) => u.meter === 'requests');
    expect(requests.map((u) => [u.keyId ?? null, u.amount]).sort()).toEqual(
      [
        [key, 1],
        [null, 1],
      ].sort(),
    );
    expect(usage.find((u) => u.meter === 'input_tokens')).toMatchObject({
      keyId: key,
      amount: 7,
      userId: 'u',
    });
  });
}
