// The one behavioural suite: every framework harness (Express 4, Express 5, Fastify) on every store kit runs it unchanged.
// Over 400 lines on purpose: the cases are what users rely on, listed in one place; each is a few lines over one harness.
/// <reference types="jest" />
import { QuotaExceededError, type ApplyOp, type CounterStore } from '@tollgate/core';
import type { RejectedEvent, ThresholdEvent } from '../events';
import type { AppHarness, RunningApp } from './harness';
import {
  burst,
  captureLogger,
  clearOfMidnight,
  eventually,
  get,
  getTarget,
  identity,
  post,
  secondsToMidnight,
  signedIdentity,
  sleep,
  uniqueTenant,
} from './http';
import { ClaimedUsage, type StoreKit } from './store-kit';
import { SUITE_CONFIG } from './suite-config';

const SECRET = 'gateway-signing-secret-0123456789';
/** The longest any one test of the suite runs. */
const TEST_MS = 60_000;

export function behaviourSuite(
  harness: AppHarness,
  kit: StoreKit,
  /** Options every app of the suite starts with (a test's own options win). */
  defaults: Record<string, unknown> = {},
): void {
  const named = Object.entries(defaults).map(([k, v]) => `, ${k} ${String(v)}`);
  describe(`${harness.name} on ${kit.name}${named.join('')}`, () => {
    const open: RunningApp[] = [];
    // Outages, timeouts and aborts must never leak a promise rejection.
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    beforeAll(() => process.on('unhandledRejection', onUnhandled));
    // Most plans here are per day: a test that ran across midnight would be granted a second day's room.
    beforeEach(() => clearOfMidnight(TEST_MS), TEST_MS + 5000);
    afterEach(async () => {
      await Promise.all(open.splice(0).map((a) => a.close()));
    });
    afterAll(async () => {
      process.off('unhandledRejection', onUnhandled);
      await kit.teardown();
      expect(unhandled).toEqual([]);
    });

    async function start(
      store: CounterStore,
      options: Record<string, unknown> = {},
      extras: { mountTwice?: boolean } = {},
    ) {
      const logger = captureLogger();
      // Quotas are exact while the store answers: tests that are not about timeouts give a busy CI box time.
      const app = await harness.start(
        { store, config: SUITE_CONFIG, logger, storeTimeoutMs: 5000, ...defaults, ...options },
        extras,
      );
      open.push(app);
      return { app, logger, usage: new ClaimedUsage(store) };
    }

    /** The tenant's counter, as `/usage/quota` would report it (limits come from the plan). */
    async function used(
      app: RunningApp,
      tenantId: string,
      plan = 'free',
      meter = 'requests',
      period = 'day',
    ) {
      // Straight from the engine: a test read must not fail on the store timeout a busy CI box can hit.
      const status = await app.tollgate.engine.status({ tenantId, plan });
      return (status.quotas[meter] as Record<string, { used: number }> | undefined)?.[period]?.used ?? 0;
    }

    it('meters /api requests only, segment by segment', async () => {
      const store = await kit.create();
      const { app, usage } = await start(store);
      const t = uniqueTenant();
      const outside = [
        await get(`${app.url}/health`, identity(t)),
        await get(`${app.url}/apix`, identity(t)),
      ];
      expect(outside.map((r) => r.status)).toEqual([200, 200]);
      expect(outside.map((r) => r.headers.get('ratelimit'))).toEqual([null, null]);
      const inside = [
        await get(`${app.url}/api/hello`, identity(t)),
        await get(`${app.url}/api/hello?x=1`, identity(t)),
      ];
      expect(inside.map((r) => r.status)).toEqual([200, 200]);
      expectRateLimit(inside[1]!, 'tenant-requests-day', 3);
      await eventually(async () => expect((await usage.refresh()).amount('requests')).toBe(2));
      expect(await used(app, t)).toBe(2);
    });

    it('meters an /api request however its target is written: absolute form, percent-escapes, repeated slashes', async () => {
      const store = await kit.create();
      const { app } = await start(store, { requireIdentity: true });
      const t = uniqueTenant();
      // Node passes each target through as written, and some router serves each one as /api/hello.
      const targets = ['http://127.0.0.1/api/hello', '/%61pi/hello', '//api/hello'];
      for (const target of targets) expect((await getTarget(app.url, target)).status).toBe(401);
      const served = await getTarget(app.url, 'http://127.0.0.1/api/hello', identity(t));
      expect(served.status).toBe(200);
      expectRateLimit(served, 'tenant-requests-day', 4);
      expect(app.handled).toEqual(['hello']);
      await eventually(async () => expect(await used(app, t)).toBe(1));
    });

    it('answers an error, and runs no handler, when identify() fails without an error or reserve() throws', async () => {
      const store = await kit.create();
      const t = uniqueTenant();
      const rejects = await start(store, { identify: () => Promise.reject(undefined) });
      expect((await get(`${rejects.app.url}/api/hello`)).status).toBe(500);
      const throwsNull = await start(store, {
        identify: () => {
          throw null;
        },
      });
      expect((await get(`${throwsNull.app.url}/api/hello`)).status).toBe(500);
      const estimateFails = await start(store, {
        identify: async () => ({ tenantId: t }),
        reserve: () => {
          throw new Error('cannot estimate this body');
        },
      });
      expect((await get(`${estimateFails.app.url}/api/hello`)).status).toBe(500);
      expect([...rejects.app.handled, ...throwsNull.app.handled, ...estimateFails.app.handled]).toEqual([]);
      // Still serving (an escaped rejection would have ended the process, or shows in afterAll).
      expect((await get(`${estimateFails.app.url}/health`)).status).toBe(200);
      expect(await used(estimateFails.app, t)).toBe(0);
    });

    it('counts nothing, and runs no handler, for a client that left while an async identify() ran', async () => {
      const store = await kit.create();
      const t = uniqueTenant();
      const { app } = await start(store, {
        identify: () => sleep(300).then(() => ({ tenantId: t, plan: 'budget' })),
        reserve: { tokens: 4000 },
      });
      const aborted = get(`${app.url}/api/hello`, {}, { signal: AbortSignal.timeout(50) });
      await expect(aborted).rejects.toThrow();
      await sleep(500);
      expect(app.handled).toEqual([]);
      expect(await used(app, t, 'budget')).toBe(0);
      // Nothing is held either: a second estimate of 4000 of the plan's 5000 tokens still fits.
      expect((await get(`${app.url}/api/hello`)).status).toBe(200);
    });

    it('lets requests without identity through unmetered, or answers 401 problem+json with requireIdentity', async () => {
      const store = await kit.create();
      const lax = await start(store);
      const r = await get(`${lax.app.url}/api/hello`);
      expect(r.status).toBe(200);
      expect(r.headers.get('ratelimit')).toBeNull();
      const strict = await start(store, { requireIdentity: true });
      const denied = await get(`${strict.app.url}/api/hello`);
      expect(denied.status).toBe(401);
      expect(denied.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(denied.json()).toMatchObject({ status: 401, title: 'Unauthorized' });
      expect(strict.app.handled).toEqual([]);
      await sleep(50);
      expect((await lax.usage.refresh()).amount('requests')).toBe(0);
    });

    it('admits exactly the limit under 300 concurrent requests, and every 429 says it is used up', async () => {
      const store = await kit.create();
      const { app, usage } = await start(store);
      const t = uniqueTenant();
      const replies = await burst(app.url, '/api/hello', 300, identity(t, 'u1', 'hundred'));
      expect(replies.filter((r) => r.headers.get('tollgate-degraded') !== null).length).toBe(0);
      expect(replies.filter((r) => r.status === 200).length).toBe(100);
      const rejected = replies.filter((r) => r.status === 429);
      expect(rejected.length).toBe(200);
      // A burst is admitted in groups split at the limit: a 429 must not show the room its group's admitted
      // requests took (`used` below the limit, `r` above 0).
      const shown = new Set(
        rejected.map((r) => {
          const body = r.json() as { used: number; limit: number };
          return `${body.used}/${body.limit} ${/;r=(\d+)/.exec(r.headers.get('ratelimit') ?? '')?.[1]}`;
        }),
      );
      expect([...shown]).toEqual(['100/100 0']);
      await eventually(async () => {
        await usage.refresh();
        expect(usage.amount('requests')).toBe(100);
        expect(usage.amount('rejected')).toBe(200);
      });
      expect(await used(app, t, 'hundred')).toBe(100);
    });

    it('enforces a per-user cap inside the tenant limit, naming the scope that ran out', async () => {
      const store = await kit.create();
      const { app } = await start(store);
      const t = uniqueTenant();
      const alice = [];
      for (let i = 0; i < 4; i++)
        alice.push(await get(`${app.url}/api/hello`, identity(t, 'alice', 'capped')));
      expect(alice.map((r) => r.status)).toEqual([200, 200, 200, 429]);
      expect(alice[3]!.json()).toMatchObject({
        scope: 'user',
        meter: 'requests',
        period: 'day',
        limit: 3,
        used: 3,
      });
      const bob = [];
      for (let i = 0; i < 3; i++) bob.push(await get(`${app.url}/api/hello`, identity(t, 'bob', 'capped')));
      expect(bob.map((r) => r.status)).toEqual([200, 200, 429]);
      expect(bob[2]!.json()).toMatchObject({ scope: 'tenant', meter: 'requests', limit: 5, used: 5 });
      await eventually(async () => expect(await used(app, t, 'capped')).toBe(5));
    });

    it('sends RateLimit headers whose values match the counters, on allowed and rejected responses', async () => {
      const store = await kit.create();
      const { app } = await start(store);
      const t = uniqueTenant();
      for (let i = 1; i <= 5; i++) {
        const r = await get(`${app.url}/api/hello`, identity(t));
        expect(r.status).toBe(200);
        expect(r.headers.get('ratelimit-policy')).toBe('"tenant-requests-day";q=5;w=86400');
        expectRateLimit(r, 'tenant-requests-day', 5 - i);
        await eventually(async () => expect(await used(app, t)).toBe(i));
      }
      const rejected = await get(`${app.url}/api/hello`, identity(t));
      expect(rejected.status).toBe(429);
      const t429 = expectRateLimit(rejected, 'tenant-requests-day', 0);
      expect(rejected.headers.get('retry-after')).toBe(String(t429));
      expect(await used(app, t)).toBe(5);
    });

    it('answers 429 problem+json naming the limit that resets last, with Retry-After', async () => {
      const store = await kit.create();
      const { app, usage } = await start(store);
      const t = uniqueTenant();
      await get(`${app.url}/api/hello`, identity(t, 'u1', 'burst'));
      await get(`${app.url}/api/hello`, identity(t, 'u1', 'burst'));
      const r = await get(`${app.url}/api/hello`, identity(t, 'u1', 'burst'));
      expect(r.status).toBe(429);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const now = new Date(r.headers.get('date')!);
      const nextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
      const body = r.json() as Record<string, unknown>;
      expect(body).toEqual({
        type: 'https://tollgate.dev/problems/quota-exceeded',
        title: 'Quota exceeded',
        status: 429,
        detail: expect.stringContaining('requests'),
        scope: 'tenant',
        meter: 'requests',
        period: 'month',
        limit: 2,
        used: 2,
        resetsAt: nextMonth.toISOString(),
      });
      const retryAfter = Number(r.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter)).toBe(true);
      const expected = Math.ceil((nextMonth.getTime() - now.getTime()) / 1000);
      expect(Math.abs(retryAfter - expected)).toBeLessThanOrEqual(2);
      expect(app.handled).toEqual(['hello', 'hello']);
      await eventually(async () => {
        await usage.refresh();
        expect(usage.amount('requests')).toBe(2);
        expect(usage.amount('rejected')).toBe(1);
      });
    });

    it('answers 403 without Retry-After when a total limit is used up', async () => {
      const store = await kit.create();
      const { app } = await start(store);
      const t = uniqueTenant();
      const replies = [];
      for (let i = 0; i < 3; i++) replies.push(await get(`${app.url}/api/hello`, identity(t, 'u1', 'trial')));
      expect(replies.map((r) => r.status)).toEqual([200, 200, 403]);
      expect(replies[1]!.headers.get('ratelimit-policy')).toBe('"tenant-requests-total";q=2');
      expect(replies[1]!.headers.get('ratelimit')).toBe('"tenant-requests-total";r=0');
      const denied = replies[2]!;
      expect(denied.headers.get('retry-after')).toBeNull();
      expect(denied.json()).toMatchObject({
        type: 'https://tollgate.dev/problems/quota-exceeded',
        status: 403,
        scope: 'tenant',
        meter: 'requests',
        period: 'total',
        limit: 2,
        used: 2,
        resetsAt: null,
      });
    });

    it('never blocks in shadow mode, but reports and counts would-be rejections', async () => {
      const store = await kit.create();
      const rejected: RejectedEvent[] = [];
      const { app, usage, logger } = await start(store, {
        mode: 'shadow',
        onRejected: (e: RejectedEvent) => rejected.push(e),
      });
      const t = uniqueTenant();
      const replies = [];
      for (let i = 0; i < 7; i++) replies.push(await get(`${app.url}/api/hello`, identity(t)));
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200, 200]);
      expect(replies[6]!.headers.get('ratelimit')).toMatch(/^"tenant-requests-day";r=0;t=\d+$/);
      expect(rejected.map((e) => [e.reason, e.status, e.shadow])).toEqual([
        ['quota', 429, true],
        ['quota', 429, true],
      ]);
      expect(logger.entries.filter((e) => /shadow/.test(e.msg ?? '')).length).toBe(2);
      await eventually(async () => {
        await usage.refresh();
        expect(usage.amount('requests')).toBe(7);
        expect(usage.amount('rejected')).toBe(2);
      });
      expect(await used(app, t)).toBe(7);
    });

    it('settles recorded tokens with their exact cost, in place of the admission reservation', async () => {
      const store = await kit.create();
      const { app, usage } = await start(store, { reserve: { tokens: 4000 } });
      const t = uniqueTenant();
      const who = identity(t, 'u1', 'budget');
      // While one request holds its 4000-token reservation, a second one does not fit the 5000 budget.
      const slow = get(`${app.url}/api/slow?ms=400`, who);
      await eventually(() => expect(app.handled).toContain('slow'));
      expect(await used(app, t, 'budget', 'tokens')).toBe(4000);
      const squeezed = await get(`${app.url}/api/hello`, who);
      expect(squeezed.status).toBe(429);
      expect(squeezed.json()).toMatchObject({ meter: 'tokens', limit: 5000, used: 4000 });
      expect((await slow).status).toBe(200);
      await eventually(async () => expect(await used(app, t, 'budget', 'tokens')).toBe(0));
      const r = await post(`${app.url}/api/chat`, { input: 1200, output: 300, model: 'gpt-4o' }, who);
      expect(r.status).toBe(200);
      await eventually(async () => expect(await used(app, t, 'budget', 'tokens')).toBe(1500));
      await eventually(async () => {
        await usage.refresh();
        expect(usage.amount('input_tokens')).toBe(1200);
        expect(usage.amount('output_tokens')).toBe(300);
        expect(usage.amount('tokens')).toBe(1500);
        // 1200 x $2.50/M + 300 x $10/M = $0.006 = 6e9 pico-dollars.
        expect(usage.cost()).toBe(6_000_000_000n);
        expect(usage.amount('requests')).toBe(2);
        expect(usage.amount('rejected')).toBe(1);
      });
    });

    it('releases the reservation of a request that failed with a 5xx, and counts the error', async () => {
      const store = await kit.create();
      const { app, usage } = await start(store, { reserve: { tokens: 4000 } });
      const t = uniqueTenant();
      const r = await get(`${app.url}/api/fail`, identity(t, 'u1', 'budget'));
      expect(r.status).toBe(500);
      await eventually(async () => {
        await usage.refresh();
        expect(usage.amount('errors')).toBe(1);
        expect(usage.amount('requests')).toBe(1);
      });
      expect(await used(app, t, 'budget', 'tokens')).toBe(0);
    });

    it('rejects at admission when the reserved estimate does not fit, consuming nothing', async () => {
      const store = await kit.create();
      const { app } = await start(store, { reserve: () => ({ tokens: 6000 }) });
      const t = uniqueTenant();
      const r = await get(`${app.url}/api/hello`, identity(t, 'u1', 'budget'));
      expect(r.status).toBe(429);
      expect(r.json()).toMatchObject({ meter: 'tokens', period: 'day', limit: 5000, used: 0 });
      expect(app.handled).toEqual([]);
      expect(await used(app, t, 'budget', 'tokens')).toBe(0);
    });

    it('lets a handler reserve tokens with req.usage.reserve and settles what it used', async () => {
      const store = await kit.create();
      const { app, usage } = await start(store);
      const t = uniqueTenant();
      const who = identity(t, 'u1', 'budget');
      const ok = await get(`${app.url}/api/reserve?tokens=4000&use=100`, who);
      expect(ok.status).toBe(200);
      await eventually(async () => expect(await used(app, t, 'budget', 'tokens')).toBe(100));
      const over = await get(`${app.url}/api/reserve?tokens=6000&use=100`, who);
      expect(over.status).toBe(429);
      expect(over.json()).toMatchObject({ meter: 'tokens', limit: 5000, used: 100 });
      await eventually(async () => {
        await usage.refresh();
        expect(usage.amount('input_tokens')).toBe(100);
        expect(usage.cost()).toBe(100_000_000n); // 100 x $1/M
        expect(usage.amount('requests')).toBe(2);
      });
      expect(await used(app, t, 'budget', 'tokens')).toBe(100);
    });

    it('never lets a reserve() then record() request overspend, and a used-up budget refuses every request', async () => {
      const store = await kit.create();
      const { app } = await start(store);
      const t = uniqueTenant();
      const who = identity(t, 'u1', 'budget');
      // Each request reserves the whole budget and uses it: back to back, only the first fits.
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await get(`${app.url}/api/reserve?tokens=5000&use=5000`, who)).status);
      }
      expect(statuses).toEqual([200, 429, 429, 429]);
      await eventually(async () => expect(await used(app, t, 'budget', 'tokens')).toBe(5000));
      // A used-up token budget turns away the subject's requests that reserve nothing, too.
      const plain = await get(`${app.url}/api/hello`, who);
      expect(plain.status).toBe(429);
      expect(plain.json()).toMatchObject({ meter: 'tokens', period: 'day', limit: 5000, used: 5000 });
      expect(Number(plain.headers.get('retry-after'))).toBeGreaterThan(0);
      // Its RateLimit headers name the spent budget, with nothing left.
      expect(plain.headers.get('ratelimit-policy')).toMatch(/^"tenant-tokens-day";q=5000;w=86400$/);
      expect(plain.headers.get('ratelimit')).toMatch(/^"tenant-tokens-day";r=0;t=\d+$/);
    });

    it('counts status, latency and bytes in and out of each request', async () => {
      const store = await kit.create();
      const { app, usage } = await start(store);
      const t = uniqueTenant();
      const who = identity(t, 'u1', 'unlimited');
      const body = { input: 1, output: 1, model: 'demo-model' };
      await post(`${app.url}/api/chat`, body, who);
      const stream = await get(`${app.url}/api/stream`, who);
      expect(stream.text).toBe('aaaabbbbcccc');
      const fail = await get(`${app.url}/api/fail`, who);
      await get(`${app.url}/api/slow?ms=60`, who);
      const chatOut = '{"ok":true}'.length;
      await eventually(async () => {
        await usage.refresh();
        expect(usage.amount('requests')).toBe(4);
        expect(usage.amount('errors')).toBe(1);
        expect(usage.amount('bytes_in')).toBe(JSON.stringify(body).length);
        expect(usage.amount('bytes_out')).toBe(chatOut + 12 + fail.text.length + '{"slow":true}'.length);
        expect(usage.amount('latency_ms')).toBeGreaterThanOrEqual(55);
      });
    });

    it('counts nothing for a request the client aborted before the handler ran', async () => {
      const outage = await kit.createOutage();
      const { app, usage } = await start(outage.store, { storeTimeoutMs: 5000 });
      const t = uniqueTenant();
      await outage.applyLate(400);
      const aborted = get(`${app.url}/api/hello`, identity(t), { signal: AbortSignal.timeout(100) });
      await expect(aborted).rejects.toThrow();
      await sleep(700);
      await outage.up();
      expect(app.handled).toEqual([]);
      await sleep(100);
      expect(await used(app, t)).toBe(0);
      await usage.refresh();
      expect(usage.amount('requests')).toBe(0);
      // The tenant's quota is intact: all 5 requests still fit.
      for (let i = 0; i < 5; i++) expect((await get(`${app.url}/api/hello`, identity(t))).status).toBe(200);
    });

    it('settles what the handler recorded before the client aborted', async () => {
      const store = await kit.create();
      const { app, usage } = await start(store);
      const t = uniqueTenant();
      const ctrl = new AbortController();
      const pending = get(`${app.url}/api/record-and-hang`, identity(t), { signal: ctrl.signal });
      await eventually(() => expect(app.handled).toContain('record-and-hang'));
      ctrl.abort();
      await expect(pending).rejects.toThrow();
      await eventually(async () => {
        await usage.refresh();
        expect(usage.amount('output_tokens')).toBe(50);
        expect(usage.amount('requests')).toBe(1);
      });
      expect(usage.cost()).toBe(500_000_000n); // 50 x $10/M
      expect(await used(app, t)).toBe(1);
    });

    it('counts usage a handler records after the response', async () => {
      const store = await kit.create();
      const { app, usage } = await start(store);
      const t = uniqueTenant();
      expect((await get(`${app.url}/api/late`, identity(t))).status).toBe(200);
      await eventually(async () => {
        await usage.refresh();
        expect(usage.amount('output_tokens')).toBe(7);
        expect(usage.amount('requests')).toBe(1);
      });
    });

    describe('admission leases (busy subjects admitted from a block reserved in the store)', () => {
      /** `total` requests from `concurrency` clients in closed loops, spread over `apps` in turn. */
      async function hammer(
        apps: RunningApp[],
        tenant: string,
        total: number,
        concurrency: number,
        send: (base: string) => Promise<{ status: number }> = (base) =>
          get(`${base}/api/hello`, identity(tenant, 'u1', 'busy')),
      ) {
        const replies: Array<{ status: number }> = [];
        let sent = 0;
        await Promise.all(
          Array.from({ length: concurrency }, async (_, worker) => {
            const base = apps[worker % apps.length]!.url;
            while (sent < total) {
              sent += 1;
              replies.push(await send(base));
            }
          }),
        );
        return replies;
      }

      it('admits exactly the limit, counts every request once and holds nothing afterwards', async () => {
        const { store, leaseOps } = countLeaseOps(await kit.create());
        const events: ThresholdEvent[] = [];
        const { app, usage } = await start(store, { onThreshold: (e: ThresholdEvent) => events.push(e) });
        const t = uniqueTenant();
        const replies = await hammer([app], t, 1600, 40);
        expect(replies.filter((r) => r.status === 200)).toHaveLength(1000);
        expect(replies.filter((r) => r.status === 429)).toHaveLength(600);
        // The traffic was busy enough for leases: without any, this test would not be about them.
        expect(leaseOps()).toBeGreaterThan(0);
        // Each lease is counted and released within leaseMs: the counter ends at what was admitted.
        await eventually(async () => {
          await usage.refresh();
          expect(usage.amount('requests')).toBe(1000);
          expect(usage.amount('rejected')).toBe(600);
          expect(await used(app, t, 'busy')).toBe(1000);
        });
        expect(events.map((e) => [e.threshold, e.limit])).toEqual([
          [50, 1000],
          [100, 1000],
        ]);
      });

      it('never admit more than the limit from two instances leasing from one store', async () => {
        const { store, leaseOps } = countLeaseOps(await kit.create());
        const a = await start(store);
        const b = await start(store);
        const t = uniqueTenant();
        const replies = await hammer([a.app, b.app], t, 1600, 40);
        const admitted = replies.filter((r) => r.status === 200).length;
        expect(admitted).toBeLessThanOrEqual(1000);
        // Room one instance holds in a lease is not the other's: a lease takes at most 1/16 of the room left,
        // so near the limit the other instance may be short by what two small leases held, for one lease period.
        expect(admitted).toBeGreaterThanOrEqual(1000 - 2 * Math.floor(1000 / 16));
        expect(replies.filter((r) => r.status === 429)).toHaveLength(1600 - admitted);
        expect(leaseOps()).toBeGreaterThan(0);
        await eventually(async () => {
          await a.usage.refresh();
          expect(a.usage.amount('requests')).toBe(admitted);
          expect(await used(a.app, t, 'busy')).toBe(admitted);
        });
      });

      it('admits calls with an estimate from a lease, within the token budget, and counts what each used', async () => {
        const { store, leaseOps, ownReservations } = countLeaseOps(await kit.create());
        // 100 tokens estimated per call, unless the call names another estimate.
        const { app, usage } = await start(store, {
          reserve: (req: { headers: Record<string, string | string[] | undefined> }) => {
            const named = req.headers['x-estimate'];
            return { tokens: typeof named === 'string' ? Number(named) : 100 };
          },
        });
        const t = uniqueTenant();
        const who = identity(t, 'u1', 'metered');
        const call = { input: 60, output: 40, model: 'gpt-4o' };
        let odd: number[] | null = null;
        // 1,400 calls that each use what they estimate: the 100,000-token budget fits 1,000 of them.
        const replies = await hammer([app], t, 1400, 40, async (base) => {
          const reply = await post(`${base}/api/chat`, call, who);
          if (odd === null && leaseOps('tokens') > 0) {
            // While a lease holds tokens: an estimate that is not an integer is still an error (and only its own),
            // one larger than the budget still a 429.
            odd = [];
            odd.push((await post(`${base}/api/chat`, call, { ...who, 'x-estimate': '1.5' })).status);
            odd.push((await post(`${base}/api/chat`, call, { ...who, 'x-estimate': '200000' })).status);
          }
          return reply;
        });
        expect(odd).toEqual([500, 429]);
        const admitted = replies.filter((r) => r.status === 200).length;
        expect(admitted).toBeLessThanOrEqual(1000);
        // Until a lease is settled the counter shows both its held tokens and what its calls used (never less than
        // the truth), so near the limit a 429 may come early: by what four leases hold, each at most 1/32 of the room.
        expect(admitted).toBeGreaterThanOrEqual(1000 - Math.floor(100_000 / 8 / 100));
        expect(replies.filter((r) => r.status === 429)).toHaveLength(1400 - admitted);
        // Many calls were admitted from leases, not by an op holding their own estimate (fewer near the limit, where
        // leases are small).
        expect(ownReservations()).toBeLessThan(admitted * 0.7);
        await eventually(async () => {
          await usage.refresh();
          expect(usage.amount('requests')).toBe(admitted);
          expect(usage.amount('tokens')).toBe(100 * admitted);
          expect(usage.amount('input_tokens')).toBe(60 * admitted);
          expect(usage.amount('rejected')).toBe(1400 - admitted + 1);
          expect(await used(app, t, 'metered', 'tokens')).toBe(100 * admitted);
          expect(await used(app, t, 'metered')).toBe(admitted);
        });
      });

      it('counts and releases every lease when the app closes right after the traffic', async () => {
        const store = await kit.create();
        const harnessed = await harness.start({ store, config: SUITE_CONFIG, storeTimeoutMs: 5000 });
        const t = uniqueTenant();
        const replies = await hammer([harnessed], t, 600, 30);
        expect(replies.filter((r) => r.status === 200)).toHaveLength(600);
        await harnessed.close();
        // Nothing left to a timer: the close counted every admitted request and released what was held.
        const usage = await new ClaimedUsage(store).refresh();
        expect(usage.amount('requests')).toBe(600);
        expect(await used(harnessed, t, 'busy')).toBe(600);
      });

      it('checks every request against the store with leaseMs: 0', async () => {
        const { store, leaseOps } = countLeaseOps(await kit.create());
        const { app } = await start(store, { leaseMs: 0 });
        const t = uniqueTenant();
        const replies = await hammer([app], t, 300, 30);
        expect(replies.filter((r) => r.status === 200)).toHaveLength(300);
        expect(leaseOps()).toBe(0);
        expect(await used(app, t, 'busy')).toBe(300);
      });
    });

    it('fires each warnAt threshold once', async () => {
      const store = await kit.create();
      const events: ThresholdEvent[] = [];
      const { app } = await start(store, { onThreshold: (e: ThresholdEvent) => events.push(e) });
      const t = uniqueTenant();
      for (let i = 0; i < 6; i++) await get(`${app.url}/api/hello`, identity(t, 'u1', 'four'));
      await sleep(50);
      expect(events.map((e) => [e.tenantId, e.meter, e.period, e.threshold, e.used, e.limit])).toEqual([
        [t, 'requests', 'day', 50, 2, 4],
        [t, 'requests', 'day', 100, 4, 4],
      ]);
    });

    it('meters a request once when the middleware is mounted twice, and warns once', async () => {
      const store = await kit.create();
      const { app, logger } = await start(store, {}, { mountTwice: true });
      const t = uniqueTenant();
      for (let i = 0; i < 3; i++) expect((await get(`${app.url}/api/hello`, identity(t))).status).toBe(200);
      await eventually(async () => expect(await used(app, t)).toBe(3));
      expect(logger.codes('warn')).toEqual(['ERR_TOLLGATE_DOUBLE_COUNT']);
    });

    it('accepts signed identity headers and rejects forged, tampered, stale and unsigned ones', async () => {
      const store = await kit.create();
      const { app } = await start(store, { signingSecret: SECRET });
      const t = uniqueTenant();
      const ok = await get(`${app.url}/api/hello`, signedIdentity(SECRET, t));
      expect(ok.status).toBe(200);
      const forged = await get(`${app.url}/api/hello`, signedIdentity('another-secret-0123456789abc', t));
      const tampered = await get(`${app.url}/api/hello`, {
        ...signedIdentity(SECRET, t),
        'x-user-tier': 'unlimited',
      });
      const stale = await get(
        `${app.url}/api/hello`,
        signedIdentity(SECRET, t, 'u1', 'free', Math.floor(Date.now() / 1000) - 600),
      );
      const unsigned = await get(`${app.url}/api/hello`, identity(t));
      expect([forged, tampered, stale, unsigned].map((r) => r.status)).toEqual([401, 401, 401, 401]);
      expect(stale.json()).toMatchObject({ status: 401, detail: expect.stringContaining('stale') });
      expect(forged.json()).toMatchObject({ status: 401, detail: expect.stringContaining('mismatch') });
      expect(app.handled).toEqual(['hello']);
      await eventually(async () => expect(await used(app, t)).toBe(1));
    });

    it('takes a signature only for the method and path it was made for, and at most 60 s old', async () => {
      const nowSeconds = () => Math.floor(Date.now() / 1000);
      const store = await kit.create();
      const { app } = await start(store, { signingSecret: SECRET });
      const t = uniqueTenant();
      const captured = signedIdentity(SECRET, t);
      const replays = [
        await get(`${app.url}/api/stream`, captured),
        await get(`${app.url}/api/hello?admin=1`, captured),
        await post(`${app.url}/api/chat`, { input: 1, output: 1, model: 'gpt-4o' }, captured),
        // Each timestamp taken just before its request: one made earlier in a slow run would drift into the window.
        await get(`${app.url}/api/hello`, signedIdentity(SECRET, t, 'u1', 'free', nowSeconds() - 61)),
        // One second more ahead than the bound: the clock may tick between signing and checking.
        await get(`${app.url}/api/hello`, signedIdentity(SECRET, t, 'u1', 'free', nowSeconds() + 62)),
      ];
      expect(replays.map((r) => r.status)).toEqual([401, 401, 401, 401, 401]);
      expect(replays[0]!.json()).toMatchObject({ detail: expect.stringContaining('bad signature') });
      expect(replays[3]!.json()).toMatchObject({ detail: expect.stringContaining('stale') });
      const chat = signedIdentity(SECRET, t, 'u1', 'free', nowSeconds() - 50, {
        method: 'POST',
        path: '/api/chat',
      });
      const accepted = [
        await get(`${app.url}/api/hello`, captured),
        await post(`${app.url}/api/chat`, { input: 1, output: 1, model: 'gpt-4o' }, chat),
        await get(
          `${app.url}/api/hello?admin=1`,
          signedIdentity(SECRET, t, 'u1', 'free', nowSeconds(), {
            method: 'GET',
            path: '/api/hello?admin=1',
          }),
        ),
      ];
      expect(accepted.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(app.handled).toEqual(['hello', 'chat', 'hello']);
      await eventually(async () => expect(await used(app, t)).toBe(3));
    });

    it('refuses an older (v1) signature layout with a clear 401', async () => {
      const store = await kit.create();
      const { app } = await start(store, { signingSecret: SECRET });
      const t = uniqueTenant();
      const v1 = {
        ...identity(t),
        'x-tollgate-signature': `t=${Math.floor(Date.now() / 1000)},v1=${'a'.repeat(64)}`,
      };
      const res = await get(`${app.url}/api/hello`, v1);
      expect(res.status).toBe(401);
      expect(res.json()).toMatchObject({ status: 401, detail: expect.stringContaining('outdated') });
      expect(app.handled).toEqual([]);
    });

    it('decodes percent-encoded identity headers, so it meters the id the gateway metered', async () => {
      const store = await kit.create();
      const { app } = await start(store);
      const tenant = `${uniqueTenant()}-租户-Ωmega-100%`;
      const user = `${uniqueTenant()} büro`;
      const headers = { 'x-tenant-id': encodeURIComponent(tenant), 'x-user-tier': 'free' };
      expect((await get(`${app.url}/api/hello`, headers)).status).toBe(200);
      const userOnly = { 'x-user-id': encodeURIComponent(user).replace('%20', ' ') };
      expect((await get(`${app.url}/api/hello`, userOnly)).status).toBe(200);
      await eventually(async () => expect(await used(app, tenant)).toBe(1));
      await eventually(async () => {
        const status = await app.tollgate.engine.status({ userId: user, plan: 'free' });
        expect(status.quotas.requests?.day?.used).toBe(1);
      });
      const broken = await get(`${app.url}/api/hello`, { ...headers, 'x-tenant-id': 'a%E7%A7' });
      const smuggled = await get(`${app.url}/api/hello`, { ...headers, 'x-user-id': 'u%0D%0Aroot' });
      expect([broken.status, smuggled.status]).toEqual([401, 401]);
      expect(broken.json()).toMatchObject({ detail: expect.stringContaining('x-tenant-id') });
      expect(app.handled).toEqual(['hello', 'hello']);
    });

    it('fails open while the store is down, then replays the buffered usage exactly once', async () => {
      const outage = await kit.createOutage();
      const { app, usage } = await start(outage.store, { replayIntervalMs: 100 });
      const t = uniqueTenant();
      const who = identity(t, 'u1', 'hundred');
      for (let i = 0; i < 2; i++) expect((await get(`${app.url}/api/hello`, who)).status).toBe(200);
      await eventually(async () => expect(await used(app, t, 'hundred')).toBe(2));
      await outage.down();
      const during = [];
      for (let i = 0; i < 3; i++) during.push(await get(`${app.url}/api/hello`, who));
      expect(during.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(during.map((r) => r.headers.get('tollgate-degraded'))).toEqual(
        Array(3).fill('store-unavailable'),
      );
      expect(during.map((r) => r.headers.get('ratelimit'))).toEqual([null, null, null]);
      // The three admissions wait for replay (with their own op ids), beside the usage written after them.
      await eventually(() => expect(app.tollgate.health().buffered).toBeGreaterThanOrEqual(3));
      expect(app.tollgate.health()).toMatchObject({ degraded: true, storeAvailable: false, dropped: 0 });
      await outage.up();
      await eventually(() =>
        expect(app.tollgate.health()).toMatchObject({ degraded: false, buffered: 0, dropped: 0 }),
      );
      expect(await used(app, t, 'hundred')).toBe(5);
      await usage.refresh();
      expect(usage.amount('requests')).toBe(5);
      const after = await get(`${app.url}/api/hello`, who);
      expect(after.headers.get('tollgate-degraded')).toBeNull();
      expect(after.headers.get('ratelimit')).toMatch(/r=94;/);
    });

    it('fails closed with 503 problem+json while the store is down, and serves again once it is back', async () => {
      const outage = await kit.createOutage();
      const rejected: RejectedEvent[] = [];
      const { app } = await start(outage.store, {
        failMode: 'closed',
        onRejected: (e: RejectedEvent) => rejected.push(e),
      });
      const t = uniqueTenant();
      await outage.down();
      const r = await get(`${app.url}/api/hello`, identity(t));
      expect(r.status).toBe(503);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(r.headers.get('tollgate-degraded')).toBe('store-unavailable');
      expect(r.json()).toMatchObject({ status: 503, title: 'Service Unavailable' });
      expect(app.handled).toEqual([]);
      expect(rejected.map((e) => [e.reason, e.status])).toEqual([['store', 503]]);
      await outage.up();
      await eventually(async () => expect((await get(`${app.url}/api/hello`, identity(t))).status).toBe(200));
      await eventually(async () => expect(await used(app, t)).toBe(1));
    });

    it('never double counts an operation whose answer was lost to the store timeout', async () => {
      const outage = await kit.createOutage();
      const { app, usage } = await start(outage.store, { replayIntervalMs: 100, storeTimeoutMs: 100 });
      const t = uniqueTenant();
      const who = identity(t, 'u1', 'hundred');
      await outage.answerLate(600);
      const replies = await Promise.all([1, 2, 3].map(() => get(`${app.url}/api/hello`, who)));
      expect(replies.map((r) => r.headers.get('tollgate-degraded'))).toEqual(
        Array(3).fill('store-unavailable'),
      );
      await eventually(() => expect(app.tollgate.health().buffered).toBeGreaterThanOrEqual(1));
      await eventually(() => expect(app.tollgate.health()).toMatchObject({ buffered: 0, degraded: false }));
      await eventually(async () => expect(await used(app, t, 'hundred')).toBe(3));
      await usage.refresh();
      expect(usage.amount('requests')).toBe(3);
    });

    it('bounds the fail-open buffer: beyond failOpenBuffer, usage is dropped, counted and logged once', async () => {
      const outage = await kit.createOutage();
      // Usage written after the responses waits 1 s (batched), so the buffer holds exactly the first two admissions.
      const { app, logger } = await start(outage.store, {
        failOpenBuffer: 2,
        replayIntervalMs: 100,
        usageBatchMs: 1000,
        durability: 'batched',
      });
      const t = uniqueTenant();
      await outage.down();
      for (let i = 0; i < 5; i++)
        expect((await get(`${app.url}/api/hello`, identity(t, 'u1', 'hundred'))).status).toBe(200);
      await eventually(() => expect(app.tollgate.health()).toMatchObject({ buffered: 2, dropped: 3 }));
      expect(logger.codes('error')).toEqual(['ERR_TOLLGATE_USAGE_DROPPED']);
      await outage.up();
      await eventually(() => expect(app.tollgate.health().buffered).toBe(0));
      expect(await used(app, t, 'hundred')).toBe(2);
    });

    it('answers within the store timeout when the store hangs, degraded', async () => {
      const outage = await kit.createOutage();
      const { app } = await start(outage.store, { storeTimeoutMs: 50 });
      const t = uniqueTenant();
      await outage.hang();
      const r = await get(`${app.url}/api/hello`, identity(t));
      expect(r.status).toBe(200);
      expect(r.headers.get('tollgate-degraded')).toBe('store-unavailable');
      expect(app.tollgate.health().storeAvailable).toBe(false);
      await outage.up();
    });

    it('gives non-HTTP code consume, enforceQuota, check, record and status on the same store', async () => {
      const store = await kit.create();
      const { app } = await start(store);
      const tg = app.tollgate;
      const t = uniqueTenant();
      const who = { tenantId: t, userId: 'job', plan: 'free' };
      for (let i = 0; i < 4; i++) expect((await tg.enforceQuota(who, 'requests')).admitted).toBe(true);
      expect(await tg.check(who, 'requests', 1)).toEqual({ allowed: true, remaining: 1 });
      expect((await tg.consume(who, { requests: 1 })).admitted).toBe(true);
      const err = await tg.enforceQuota(who, 'requests').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(QuotaExceededError);
      expect(err).toMatchObject({ status: 429, problem: { meter: 'requests', limit: 5, used: 5 } });
      expect(await tg.check(who, 'requests', 1)).toEqual({ allowed: false, remaining: 0 });
      const recorded = await tg.record(who, 'output_tokens', 300, { model: 'gpt-4o' });
      expect(recorded).toMatchObject({ buffered: false, costPico: 3_000_000_000n });
      const status = await tg.status(who);
      expect(status).toMatchObject({
        plan: 'free',
        anyExceeded: true,
        subject: { tenantId: t, userId: 'job' },
      });
      expect(status.quotas.requests?.day).toMatchObject({ limit: 5, used: 5, remaining: 0 });
      // HTTP requests see the same counters.
      expect((await get(`${app.url}/api/hello`, identity(t, 'u2'))).status).toBe(429);
    });
  });
}

/**
 * Checks `RateLimit: "<name>";r=<remaining>;t=<seconds to reset>` and returns t. `t` is checked against
 * the response's Date header, which has whole seconds and may be a second off the server's own clock.
 */
function expectRateLimit(r: { headers: Headers }, name: string, remaining: number): number {
  const m = /^"([^"]+)";r=(\d+);t=(\d+)$/.exec(r.headers.get('ratelimit') ?? '');
  expect(m).not.toBeNull();
  expect([m![1], Number(m![2])]).toEqual([name, remaining]);
  const t = Number(m![3]);
  const expected = secondsToMidnight(Date.parse(r.headers.get('date') ?? ''));
  expect(Math.abs(t - expected)).toBeLessThanOrEqual(1);
  return t;
}

/**
 * The store, counting the ops that reserve `requests` (only admission leases do; `leaseOps(meter)` those that hold
 * `meter` too) and the requests' own reservations that admission ops held when admitted (`ownReservations`).
 */
function countLeaseOps(inner: CounterStore): {
  store: CounterStore;
  leaseOps: (meter?: string) => number;
  ownReservations: () => number;
} {
  const leases: ApplyOp[] = [];
  let own = 0;
  const store = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'apply') {
        return (op: ApplyOp) => {
          if (op.reserve?.amounts.some((a) => a.meter === 'requests')) leases.push(op);
          const held = op.reserves?.length ?? 0;
          return target.apply(op).then((result) => {
            if (result.status === 'applied') own += held;
            return result;
          });
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return {
    store,
    leaseOps: (meter = 'requests') =>
      leases.filter((op) => op.reserve!.amounts.some((a) => a.meter === meter)).length,
    ownReservations: () => own,
  };
}
