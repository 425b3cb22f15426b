// The contract suite, thresholds and events: crossed by used amounts only, reported once per window, kept on the
// flush path.
/// <reference types="jest" />
import type { CounterStore } from '../../store';
import { uniqueId, type TestClock, type ContractKit } from './kit';

/** Registers this group's cases; `kit` hands each case the store and clock of the running test. */
export function thresholdCases(kit: ContractKit): void {
  let store: CounterStore;
  let clock: TestClock;
  const { engine } = kit;
  beforeEach(() => {
    ({ store, clock } = kit.current());
  });

  it('crosses thresholds by used amounts only: holding a reservation crosses nothing, settling one crosses what it used', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), plan: 'free' };
    const crossings = (r: { thresholds: Array<{ threshold: number; used: number; limit: number }> }) =>
      r.thresholds.map((t) => [t.threshold, t.used, t.limit]);
    // 4900 of 5000 tokens held: past both 50 % and 100 % of what the counter shows, nothing used yet.
    const big = await e.consume(who, {}, { reserve: { tokens: 4000 } });
    const small = await e.consume(who, {}, { reserve: { tokens: 900 } });
    if (!big.admitted || !small.admitted) throw new Error('expected admissions');
    expect([crossings(big), crossings(small)]).toEqual([[], []]);
    const settled = await e.settle(who, big.reservationId!, [
      { meter: 'input_tokens', amount: 300, model: 'demo-model' },
    ]);
    expect(crossings(settled)).toEqual([]);
    // 2500 used (50 %) while 900 are still held: the event names the used amount, not the counter's 3400.
    const half = await e.record(who, [{ meter: 'output_tokens', amount: 2200, model: 'demo-model' }]);
    expect(crossings(half)).toEqual([[50, 2500, 5000]]);
    expect((await e.status(who)).quotas.tokens?.day?.used).toBe(3400);
    await e.release(who, small.reservationId!);
    const full = await e.record(who, [{ meter: 'input_tokens', amount: 2500, model: 'demo-model' }]);
    expect(crossings(full)).toEqual([[100, 5000, 5000]]);
  });

  it('crosses thresholds by used amounts when reservations of one op are settled or expire', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), plan: 'free' };
    const [a, b] = [uniqueId('r'), uniqueId('r')];
    const held = await e.consume(
      who,
      { requests: 1 },
      {
        reserves: [
          { id: a, amounts: { tokens: 3000 } },
          { id: b, amounts: { tokens: 1500 } },
        ],
      },
    );
    expect(held.admitted && held.thresholds).toEqual([]);
    const expiring = await e.consume(who, {}, { reserve: { tokens: 400 }, reservationTtlMs: 30_000 });
    expect(expiring.admitted && expiring.thresholds).toEqual([]);
    clock.advance(31_000);
    // a settles at 2400 while b still holds 1500: 2400 is 48 %, below the first threshold.
    const settledA = await e.settle(who, a, [{ meter: 'output_tokens', amount: 2400, model: 'demo-model' }]);
    expect(settledA.thresholds).toEqual([]);
    // b settles at 100: 2500 used, 50 % (the expired 400 held nothing any more).
    const settledB = await e.settle(who, b, [{ meter: 'output_tokens', amount: 100, model: 'demo-model' }]);
    expect(settledB.thresholds.map((t) => [t.meter, t.threshold, t.used])).toEqual([['tokens', 50, 2500]]);
  });

  it('reports each threshold once per period', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), plan: 'big' };
    const crossed: number[] = [];
    for (let i = 0; i < 100; i++) {
      const a = await e.consume(who, { requests: 1 });
      if (a.admitted) crossed.push(...a.thresholds.map((t) => t.threshold));
    }
    expect(crossed).toEqual([50, 100]);
    await e.consume(who, { requests: 1 });
    clock.toNextDay();
    const again: number[] = [];
    for (let i = 0; i < 50; i++) {
      const a = await e.consume(who, { requests: 1 });
      if (a.admitted) again.push(...a.thresholds.map((t) => t.threshold));
    }
    expect(again).toEqual([50]);
  });

  it('keeps threshold and quota-exceeded events on the flush path, once per window', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), userId: 'u1', plan: 'free' };
    for (let i = 0; i < 8; i++) await e.consume(who, { requests: 1 });
    const batches = (await store.claim({ now: clock.now(), maxTags: 1000, staleAfterMs: 60_000 })).filter(
      (b) => b.tag === `t:${who.tenantId}`,
    );
    const events = batches.flatMap((b) => b.events);
    const summary = events
      .map((ev) => `${ev.type}:${ev.meter}:${ev.period}:${String(ev.details.threshold ?? '')}`)
      .sort();
    expect(summary).toEqual([
      'quota_exceeded:requests:day:',
      'threshold:requests:day:100',
      'threshold:requests:day:50',
    ]);
    const exceeded = events.find((ev) => ev.type === 'quota_exceeded')!;
    expect(exceeded).toMatchObject({ tenantId: who.tenantId, userId: 'u1' });
    expect(exceeded.details).toMatchObject({ scope: 'tenant', limit: 5, used: 5 });
    await store.ack(batches);
  });
}
