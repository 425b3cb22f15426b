// The contract suite, admission (steps 5-7 of `apply`): every limit and period at once, all-or-nothing, exact
// under concurrency, gates, gauges, `check`.
/// <reference types="jest" />
import { DAY, uniqueId, type TestClock, type ContractKit } from './kit';

/** Registers this group's cases; `kit` hands each case the store and clock of the running test. */
export function admissionCases(kit: ContractKit): void {
  let clock: TestClock;
  const { engine } = kit;
  beforeEach(() => {
    ({ clock } = kit.current());
  });

  it('admits exactly the limit, then rejects with limit, used and resetsAt', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), plan: 'free' };
    const results = [];
    for (let i = 0; i < 7; i++) results.push(await e.consume(who, { requests: 1 }));
    expect(results.map((r) => r.admitted)).toEqual([true, true, true, true, true, false, false]);
    const last = results[6]!;
    if (last.admitted) throw new Error('expected a rejection');
    expect(last.violation).toMatchObject({
      scope: 'tenant',
      meter: 'requests',
      period: 'day',
      limit: 5,
      used: 5,
    });
    const nextMidnight = clock.now() - (clock.now() % DAY) + DAY;
    expect(last.violation.resetsAt).toBe(nextMidnight);
    const status = await e.status(who);
    expect(status.quotas.requests?.day).toMatchObject({ limit: 5, used: 5, remaining: 0, percentage: 100 });
    expect(status.anyExceeded).toBe(true);
  });

  it('refuses a request while another limited counter of its subject has no room left, and takes nothing from it', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), plan: 'free' }; // requests 5 a day, tokens 5000 a day
    await e.record(who, [{ meter: 'tokens', amount: 4999 }]);
    const admitted = await e.consume(who, { requests: 1 });
    expect(admitted.admitted).toBe(true);
    expect((await e.status(who)).quotas.tokens?.day?.used).toBe(4999);
    expect(await e.check(who, 'requests', 1)).toMatchObject({ allowed: true });
    await e.record(who, [{ meter: 'tokens', amount: 1 }]);
    // check() agrees with admission.
    expect(await e.check(who, 'requests', 1)).toMatchObject({ allowed: false });
    const refused = await e.consume(who, { requests: 1 }, { opId: uniqueId('gated') });
    expect(refused.admitted).toBe(false);
    if (!refused.admitted) {
      expect(refused.violation).toMatchObject({ meter: 'tokens', period: 'day', limit: 5000, used: 5000 });
    }
    expect((await e.status(who)).quotas.requests?.day?.used).toBe(1);
    // A handler's own reservation (no request) is not refused because `requests` sits exactly at its limit.
    const busy = { tenantId: uniqueId('t'), plan: 'free' };
    for (let i = 0; i < 5; i++) expect((await e.consume(busy, { requests: 1 })).admitted).toBe(true);
    expect((await e.consume(busy, {}, { reserve: { tokens: 10 } })).admitted).toBe(true);
    // A gauge at its limit (storage) gates nothing: a client that is full must still be able to delete.
    const full = { tenantId: uniqueId('t'), plan: 'free' };
    await e.record(full, [{ meter: 'storage_bytes', amount: 1000 }]);
    expect((await e.consume(full, { requests: 1 })).admitted).toBe(true);
    // A limit of 0 forbids its meter, not the requests that take none of it.
    const noLlm = { tenantId: uniqueId('t'), plan: 'nollm' };
    expect((await e.consume(noLlm, { requests: 1 })).admitted).toBe(true);
    expect((await e.consume(noLlm, {}, { reserve: { tokens: 1 } })).admitted).toBe(false);
  });

  it('admits exactly 100 of 1000 concurrent consumes at a limit of 100', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), plan: 'big' };
    const results = await Promise.all(Array.from({ length: 1000 }, () => e.consume(who, { requests: 1 })));
    expect(results.filter((r) => r.admitted).length).toBe(100);
    const status = await e.status(who);
    expect(status.quotas.requests?.day?.used).toBe(100);
  });

  it('is all-or-nothing across limits: a rejection by one consumes nothing on the others', async () => {
    const e = engine();
    const tenantId = uniqueId('t');
    const alice = { tenantId, userId: 'alice', plan: 'capped' };
    const bob = { tenantId, userId: 'bob', plan: 'capped' };
    for (let i = 0; i < 3; i++) expect((await e.consume(alice, { requests: 1 })).admitted).toBe(true);
    const rejected = await e.consume(alice, { requests: 1 });
    expect(rejected.admitted).toBe(false);
    if (!rejected.admitted)
      expect(rejected.violation).toMatchObject({ scope: 'user', id: 'alice', limit: 3, used: 3 });
    const status = await e.status(alice);
    expect(status.quotas.requests?.day?.used).toBe(3);
    expect(status.userQuotas.requests?.day?.used).toBe(3);
    // The tenant still has room for bob.
    expect((await e.consume(bob, { requests: 1 })).admitted).toBe(true);
    expect((await e.status(bob)).quotas.requests?.day?.used).toBe(4);
  });

  it('checks every period at once: a minute limit rejects without touching the day counter', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), plan: 'burst' };
    expect((await e.consume(who, { requests: 1 })).admitted).toBe(true);
    expect((await e.consume(who, { requests: 1 })).admitted).toBe(true);
    const third = await e.consume(who, { requests: 1 });
    expect(third.admitted).toBe(false);
    if (!third.admitted) expect(third.violation).toMatchObject({ period: 'minute', limit: 2, used: 2 });
    expect((await e.status(who)).quotas.requests?.day?.used).toBe(2);
    clock.advance(60_000);
    expect((await e.consume(who, { requests: 1 })).admitted).toBe(true);
    expect((await e.status(who)).quotas.requests?.day?.used).toBe(3);
  });

  it('resets counters when the period rolls over', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), plan: 'free' };
    for (let i = 0; i < 5; i++) await e.consume(who, { requests: 1 });
    expect((await e.consume(who, { requests: 1 })).admitted).toBe(false);
    clock.toNextDay();
    expect((await e.consume(who, { requests: 1 })).admitted).toBe(true);
    expect((await e.status(who)).quotas.requests?.day?.used).toBe(1);
  });

  it('never blocks an unlimited (-1) limit but still counts it', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), plan: 'pro' };
    for (let i = 0; i < 20; i++) expect((await e.consume(who, { requests: 1 })).admitted).toBe(true);
    const line = (await e.status(who)).quotas.requests?.day;
    expect(line).toMatchObject({ limit: -1, used: 20, remaining: null, percentage: 0 });
  });

  it('lets a gauge go down and enforces its total limit', async () => {
    const e = engine();
    const who = { tenantId: uniqueId('t'), plan: 'free' };
    await e.record(who, [{ meter: 'storage_bytes', amount: 700 }]);
    await e.record(who, [{ meter: 'storage_bytes', amount: -300 }]);
    expect((await e.status(who)).quotas.storage_bytes?.total).toMatchObject({
      used: 400,
      limit: 1000,
      resetsAt: null,
    });
    expect((await e.consume(who, { storage_bytes: 700 })).admitted).toBe(false);
    expect((await e.consume(who, { storage_bytes: 600 })).admitted).toBe(true);
  });

  it('answers check without consuming, with the smallest remaining over every limit', async () => {
    const e = engine();
    const tenantId = uniqueId('t');
    const who = { tenantId, userId: 'carol', plan: 'capped' };
    await e.consume(who, { requests: 1 });
    expect(await e.check(who, 'requests', 2)).toEqual({ allowed: true, remaining: 2 });
    expect(await e.check(who, 'requests', 3)).toEqual({ allowed: false, remaining: 2 });
    expect((await e.status(who)).quotas.requests?.day?.used).toBe(1);
  });
}
