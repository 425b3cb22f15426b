// The store contract suite: every CounterStore (MemoryStore, RedisStore, yours) must pass it unchanged.
/// <reference types="jest" />
import { parseConfig, type TollgateConfigInput } from '../config';
import { QuotaEngine, type BaselineSource } from '../engine';
import type { ClaimedBatch, CounterStore, UsageDelta } from '../store';

export interface ContractStoreFactory {
  /** Suite title, e.g. `MemoryStore` or `RedisStore (cluster)`. */
  name: string;
  /** A fresh, empty store (own key prefix or instance) for one test. */
  create: () => Promise<CounterStore>;
  /** Called after each test with the store it created. Defaults to `store.close()`. */
  destroy?: (store: CounterStore) => Promise<void>;
}

const DAY = 86_400_000;

export const CONTRACT_CONFIG: TollgateConfigInput = {
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'free',
  warnAt: [50, 100],
  meters: { storage_bytes: { kind: 'gauge' } },
  plans: {
    free: {
      limits: {
        requests: { day: 5 },
        tokens: { day: 5000 },
        storage_bytes: { total: 1000 },
      },
    },
    burst: { limits: { requests: { minute: 2, day: 100 } } },
    big: { limits: { requests: { day: 100 } } },
    pro: { limits: { requests: { day: -1 }, tokens: { day: -1 } } },
    capped: { limits: { requests: { day: 10 } } },
    // No tokens at all on this plan: requests that take none still pass.
    nollm: { limits: { requests: { day: 5 }, tokens: { day: 0 } } },
  },
  userLimits: { capped: { requests: { day: 3 } } },
  // Per API key: under the user's cap on `capped`, and a token budget of its own on `big`.
  keyLimits: { capped: { requests: { day: 2 } }, big: { tokens: { day: 1000 } } },
  pricing: { 'demo-model': { input: '1.00', output: '2.00' } },
};

/** A controllable clock that starts at the real time and only moves forward (Redis TTLs stay in the future). */
export class TestClock {
  private offset = 0;
  now = (): number => Date.now() + this.offset;
  advance(ms: number): void {
    this.offset += ms;
  }
  /** Moves to just after the next UTC midnight. */
  toNextDay(): void {
    const n = this.now();
    this.offset += DAY - (n % DAY) + 1000;
  }
}

let counter = 0;
function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

function sumUsage(batches: ClaimedBatch[], meter: string): number {
  return batches
    .flatMap((b) => b.usage)
    .filter((u: UsageDelta) => u.meter === meter)
    .reduce((a, u) => a + u.amount, 0);
}

/** Registers the contract suite with jest (`describe`/`it` globals). */
export function storeContractSuite(factory: ContractStoreFactory): void {
  describe(`CounterStore contract: ${factory.name}`, () => {
    let store: CounterStore;
    let clock: TestClock;
    const config = parseConfig(CONTRACT_CONFIG);
    const engine = (baseline?: BaselineSource) =>
      new QuotaEngine({ store, config, now: clock.now, baseline });

    beforeEach(async () => {
      // Keep a whole day ahead so no test straddles midnight by accident.
      clock = new TestClock();
      if (DAY - (clock.now() % DAY) < 120_000) clock.toNextDay();
      store = await factory.create();
    });
    afterEach(async () => {
      await (factory.destroy ? factory.destroy(store) : store.close());
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
      const settledA = await e.settle(who, a, [
        { meter: 'output_tokens', amount: 2400, model: 'demo-model' },
      ]);
      expect(settledA.thresholds).toEqual([]);
      // b settles at 100: 2500 used, 50 % (the expired 400 held nothing any more).
      const settledB = await e.settle(who, b, [{ meter: 'output_tokens', amount: 100, model: 'demo-model' }]);
      expect(settledB.thresholds.map((t) => [t.meter, t.threshold, t.used])).toEqual([['tokens', 50, 2500]]);
    });

    it('applies overrides at once, on any period, and removes them', async () => {
      const e = engine();
      const tenantId = uniqueId('t');
      const who = { tenantId, plan: 'free' };
      await e.setOverride({ scope: 'tenant', id: tenantId }, 'requests', 'day', 2);
      expect((await e.consume(who, { requests: 1 })).admitted).toBe(true);
      expect((await e.consume(who, { requests: 1 })).admitted).toBe(true);
      expect((await e.consume(who, { requests: 1 })).admitted).toBe(false);
      await e.setOverride({ scope: 'tenant', id: tenantId }, 'requests', 'day', -1);
      expect((await e.consume(who, { requests: 1 })).admitted).toBe(true);
      // A period the plan does not limit counts from when its override is set.
      await e.setOverride({ scope: 'tenant', id: tenantId }, 'requests', 'hour', 1);
      expect((await e.consume(who, { requests: 1 })).admitted).toBe(true);
      const r = await e.consume(who, { requests: 1 });
      expect(r.admitted).toBe(false);
      if (!r.admitted) expect(r.violation).toMatchObject({ period: 'hour', limit: 1, used: 1 });
      await e.setOverride({ scope: 'tenant', id: tenantId }, 'requests', 'hour', null);
      await e.setOverride({ scope: 'tenant', id: tenantId }, 'requests', 'day', null);
      expect((await e.consume(who, { requests: 1 })).admitted).toBe(true); // day: 5 of the plan's 5
      const back = await e.consume(who, { requests: 1 });
      expect(back.admitted).toBe(false);
      if (!back.admitted) expect(back.violation).toMatchObject({ period: 'day', limit: 5 });
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

    it('rebuilds a lost shard from the baseline before admitting anything', async () => {
      const calls: string[] = [];
      const e = engine({
        used: async (q) => {
          calls.push(`${q.scope}:${q.meter}:${q.period}`);
          return q.meter === 'requests' && q.period === 'day' ? 5 : 0;
        },
      });
      const who = { tenantId: uniqueId('t'), plan: 'free' };
      const results = await Promise.all([e.consume(who, { requests: 1 }), e.consume(who, { requests: 1 })]);
      expect(results.map((r) => r.admitted)).toEqual([false, false]);
      expect(calls.filter((c) => c === 'tenant:requests:day').length).toBe(1);
      expect((await e.status(who)).quotas.requests?.day?.used).toBe(5);
      expect(
        await store.seed({
          tag: `t:${who.tenantId}`,
          now: clock.now(),
          scopes: [{ scope: 'tenant', id: who.tenantId }],
          counters: [],
          overrides: [],
        }),
      ).toBe(false);
    });

    it("rebuilds each user cap inside a tenant on that user's first request after the store lost its data", async () => {
      const used: Record<string, number> = {
        'tenant:requests': 7,
        'user:alice:requests': 3,
        'user:bob:requests': 3,
      };
      const e = engine({
        used: async (q) =>
          q.period === 'day'
            ? (used[q.scope === 'tenant' ? `tenant:${q.meter}` : `user:${q.id}:${q.meter}`] ?? 0)
            : 0,
      });
      const tenantId = uniqueId('t');
      const alice = await e.consume({ tenantId, userId: 'alice', plan: 'capped' }, { requests: 1 });
      expect(alice.admitted).toBe(false);
      if (!alice.admitted)
        expect(alice.violation).toMatchObject({ scope: 'user', id: 'alice', used: 3, limit: 3 });
      // The tenant is seeded now; bob's cap must still come from the baseline, not start at 0.
      const bob = await e.consume({ tenantId, userId: 'bob', plan: 'capped' }, { requests: 1 });
      expect(bob.admitted).toBe(false);
      if (!bob.admitted) expect(bob.violation).toMatchObject({ scope: 'user', id: 'bob', used: 3 });
      const carol = await e.consume({ tenantId, userId: 'carol', plan: 'capped' }, { requests: 1 });
      expect(carol.admitted).toBe(true);
      expect((await e.status({ tenantId, userId: 'carol', plan: 'capped' })).quotas.requests?.day?.used).toBe(
        8,
      );
    });

    it('admits a call with an API key only while tenant, user and key all have room, in one atomic step', async () => {
      const e = engine();
      const tenantId = uniqueId('t');
      const k1 = { tenantId, userId: 'alice', plan: 'capped', apiKeyId: uniqueId('key') };
      const k2 = { ...k1, apiKeyId: uniqueId('key') };
      expect((await e.consume(k1, { requests: 1 })).admitted).toBe(true);
      expect((await e.consume(k1, { requests: 1 })).admitted).toBe(true);
      const byKey = await e.consume(k1, { requests: 1 });
      expect(byKey.admitted).toBe(false);
      if (!byKey.admitted)
        expect(byKey.violation).toMatchObject({ scope: 'key', id: k1.apiKeyId, limit: 2, used: 2 });
      // The refusal took nothing from the user or the tenant: alice's second key still gets her last request.
      const status = await e.status(k1);
      expect(status.keyQuotas?.requests?.day).toMatchObject({ limit: 2, used: 2, remaining: 0 });
      expect(status.userQuotas.requests?.day?.used).toBe(2);
      expect(status.quotas.requests?.day?.used).toBe(2);
      expect((await e.consume(k2, { requests: 1 })).admitted).toBe(true);
      const byUser = await e.consume(k2, { requests: 1 });
      expect(byUser.admitted).toBe(false);
      if (!byUser.admitted) expect(byUser.violation).toMatchObject({ scope: 'user', id: 'alice', used: 3 });
      expect((await e.status(k2)).keyQuotas?.requests?.day?.used).toBe(1);
      // Without a key the same user has no key scope at all.
      expect((await e.status({ tenantId, userId: 'alice', plan: 'capped' })).keyQuotas).toBeUndefined();
    });

    it('admits exactly a key limit under 300 concurrent consumes, and reserves tokens against a key budget', async () => {
      const e = engine();
      const tenantId = uniqueId('t');
      const key = uniqueId('key');
      await e.setOverride({ scope: 'key', id: key, tenantId, userId: 'u' }, 'requests', 'day', 37);
      const who = { tenantId, userId: 'u', plan: 'big', apiKeyId: key };
      const results = await Promise.all(Array.from({ length: 300 }, () => e.consume(who, { requests: 1 })));
      expect(results.filter((r) => r.admitted)).toHaveLength(37);
      expect((await e.status(who)).keyQuotas?.requests?.day?.used).toBe(37);
      // The key's token budget (1000) holds a reservation like any other limit, and a rejection names the key.
      const budget = { tenantId, userId: 'u2', plan: 'big', apiKeyId: uniqueId('key') };
      const held = await e.consume(budget, { requests: 1 }, { reserve: { tokens: 800 } });
      expect(held.admitted).toBe(true);
      const over = await e.consume(budget, { requests: 1 }, { reserve: { tokens: 300 } });
      expect(over.admitted).toBe(false);
      if (!over.admitted)
        expect(over.violation).toMatchObject({ scope: 'key', meter: 'tokens', limit: 1000 });
    });

    it('applies and removes a key override at once, beside the plan keyLimits', async () => {
      const e = engine();
      const tenantId = uniqueId('t');
      const key = uniqueId('key');
      const who = { tenantId, userId: 'alice', plan: 'capped', apiKeyId: key };
      await e.setOverride({ scope: 'key', id: key, tenantId, userId: 'alice' }, 'requests', 'day', 1);
      expect((await e.consume(who, { requests: 1 })).admitted).toBe(true);
      const r = await e.consume(who, { requests: 1 });
      expect(r.admitted).toBe(false);
      if (!r.admitted) expect(r.violation).toMatchObject({ scope: 'key', limit: 1 });
      await e.setOverride({ scope: 'key', id: key, tenantId, userId: 'alice' }, 'requests', 'day', null);
      expect((await e.consume(who, { requests: 1 })).admitted).toBe(true);
      const back = await e.consume(who, { requests: 1 });
      expect(back.admitted).toBe(false);
      // Back to the plan's keyLimits (2), both used.
      if (!back.admitted) expect(back.violation).toMatchObject({ scope: 'key', limit: 2, used: 2 });
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

    it("rebuilds a key's counters from the baseline on its first call after the store lost its data", async () => {
      const e = engine({
        used: async (q) => (q.period === 'day' && q.scope === 'key' && q.meter === 'requests' ? 2 : 0),
      });
      const tenantId = uniqueId('t');
      const r = await e.consume(
        { tenantId, userId: 'alice', plan: 'capped', apiKeyId: uniqueId('key') },
        { requests: 1 },
      );
      expect(r.admitted).toBe(false);
      if (!r.admitted) expect(r.violation).toMatchObject({ scope: 'key', used: 2, limit: 2 });
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
  });
}
