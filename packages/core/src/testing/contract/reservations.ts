// The contract suite, reservations (steps 2 and 4 of `apply`): held under concurrency, settled or released
// exactly once, expired on time.
/// <reference types="jest" />
import type { CounterStore } from '../../store';
import { sumUsage, uniqueId, type TestClock, type ContractKit } from './kit';

/** Registers this group's cases; `kit` hands each case the store and clock of the running test. */
export function reservationCases(kit: ContractKit): void {
  let store: CounterStore;
  let clock: TestClock;
  const { engine } = kit;
  beforeEach(() => {
    ({ store, clock } = kit.current());
  });

  it('reserves against a budget under concurrency and settles or releases the difference exactly', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), plan: 'free' };
    const admissions = await Promise.all(
      Array.from({ length: 10 }, () => e.consume(who, {}, { reserve: { tokens: 1000 } })),
    );
    const admitted = admissions.filter((a) => a.admitted);
    expect(admitted.length).toBe(5);
    expect((await e.status(who)).quotas.tokens?.day?.used).toBe(5000);
    const ids = admitted.map((a) => (a.admitted ? a.reservationId! : ''));
    await e.settle(who, ids[0]!, [
      { meter: 'input_tokens', amount: 150, model: 'demo-model' },
      { meter: 'output_tokens', amount: 50, model: 'demo-model' },
    ]);
    expect((await e.status(who)).quotas.tokens?.day?.used).toBe(4200);
    await e.release(who, ids[1]!);
    expect((await e.status(who)).quotas.tokens?.day?.used).toBe(3200);
    // Settling the same reservation again undoes nothing more.
    await e.release(who, ids[1]!);
    expect((await e.status(who)).quotas.tokens?.day?.used).toBe(3200);
  });

  it('settles several reservations in one op: each still held is undone exactly once, settled or expired ones are skipped', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), plan: 'free' };
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const a = await e.consume(who, {}, { reserve: { tokens: 1000 } });
      if (!a.admitted) throw new Error('expected an admission');
      ids.push(a.reservationId!);
    }
    const short = await e.consume(who, {}, { reserve: { tokens: 1000 }, reservationTtlMs: 30_000 });
    if (!short.admitted) throw new Error('expected an admission');
    expect((await e.status(who)).quotas.tokens?.day?.used).toBe(4000);
    // The first is settled alone; the short one expires.
    await e.settle(who, ids[0]!, [{ meter: 'input_tokens', amount: 10, model: 'demo-model' }]);
    clock.advance(31_000);
    expect((await e.status(who)).quotas.tokens?.day?.used).toBe(2010);
    // One op: the settled and expired ids (and a repeated id) undo nothing more; the two held are undone once each.
    await e.settle(
      who,
      [ids[0]!, ids[1]!, short.reservationId!, ids[2]!, ids[1]!],
      [
        { meter: 'input_tokens', amount: 300, model: 'demo-model' },
        { meter: 'output_tokens', amount: 45, model: 'demo-model' },
      ],
    );
    expect((await e.status(who)).quotas.tokens?.day?.used).toBe(355);
    // Settling them all again changes nothing but the usage it carries.
    await e.settle(who, ids, []);
    expect((await e.status(who)).quotas.tokens?.day?.used).toBe(355);
    // `settle` and `settleIds` together in one raw op: both undone, once.
    const a = await e.consume(who, {}, { reserve: { tokens: 2000 } });
    const b = await e.consume(who, {}, { reserve: { tokens: 600 } });
    if (!a.admitted || !b.admitted) throw new Error('expected admissions');
    expect((await e.status(who)).quotas.tokens?.day?.used).toBe(2955);
    const subject = e.resolve(who);
    const result = await store.apply({
      opId: uniqueId('op'),
      tag: subject.tag,
      now: clock.now(),
      mode: 'record',
      scopes: subject.scopes,
      windows: e.windowsAt(clock.now()),
      limits: subject.limits,
      amounts: [],
      settle: { id: a.reservationId! },
      settleIds: [b.reservationId!, a.reservationId!],
      usage: [],
      warnAt: [],
      seed: 'auto',
    });
    expect(result.status).toBe('applied');
    expect((await e.status(who)).quotas.tokens?.day?.used).toBe(355);
    const batches = await store.claim({ now: clock.now(), maxTags: 100, staleAfterMs: 60_000 });
    expect(sumUsage(batches, 'input_tokens')).toBe(310);
    expect(sumUsage(batches, 'output_tokens')).toBe(45);
  });

  it('holds several reservations in one enforce op all-or-nothing, each settled, released or expired on its own', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), plan: 'free' };
    const [a, b, c, d] = [uniqueId('r'), uniqueId('r'), uniqueId('r'), uniqueId('r')];
    const three = await e.consume(
      who,
      { requests: 3 },
      {
        reserves: [
          { id: a, amounts: { tokens: 2000 } },
          { id: b, amounts: { tokens: 2000 } },
          { id: c, amounts: { tokens: 2000 } },
        ],
      },
    );
    // 6000 tokens do not fit in 5000: nothing is consumed or held.
    expect(three.admitted).toBe(false);
    let q = (await e.status(who)).quotas;
    expect([q.requests?.day?.used, q.tokens?.day?.used]).toEqual([0, 0]);
    const two = await e.consume(
      who,
      { requests: 2 },
      {
        reserves: [
          { id: a, amounts: { tokens: 2000 } },
          { id: b, amounts: { tokens: 1500 } },
        ],
      },
    );
    expect(two.admitted).toBe(true);
    q = (await e.status(who)).quotas;
    expect([q.requests?.day?.used, q.tokens?.day?.used]).toEqual([2, 3500]);
    await e.settle(who, a, [{ meter: 'output_tokens', amount: 100, model: 'demo-model' }]);
    expect((await e.status(who)).quotas.tokens?.day?.used).toBe(1600);
    await e.release(who, b);
    await e.release(who, b);
    expect((await e.status(who)).quotas.tokens?.day?.used).toBe(100);
    const short = await e.consume(
      who,
      { requests: 1 },
      { reserves: [{ id: d, amounts: { tokens: 900 } }], reservationTtlMs: 30_000 },
    );
    expect(short.admitted).toBe(true);
    expect((await e.status(who)).quotas.tokens?.day?.used).toBe(1000);
    clock.advance(31_000);
    q = (await e.status(who)).quotas;
    expect([q.requests?.day?.used, q.tokens?.day?.used]).toEqual([3, 100]);
  });

  it('releases a reservation that is never settled once it expires', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), plan: 'free' };
    const a = await e.consume(who, {}, { reserve: { tokens: 4000 }, reservationTtlMs: 30_000 });
    expect(a.admitted).toBe(true);
    expect((await e.consume(who, {}, { reserve: { tokens: 2000 } })).admitted).toBe(false);
    clock.advance(31_000);
    expect((await e.status(who)).quotas.tokens?.day?.used).toBe(0);
    expect((await e.consume(who, {}, { reserve: { tokens: 2000 } })).admitted).toBe(true);
  });
}
