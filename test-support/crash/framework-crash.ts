// The Express and Fastify crash test: an app with trackUsage/the plugin on RedisStore SIGKILLed at random moments
// under load and restarted on the same port; everything clients received in full must be in the ledger.
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisStore } from '@tollgate/redis';
import { freePort, REDIS_URL, uniquePrefix } from '../services';
import { buildCrashTree, childEnv } from './child-tree';
import { mixedCalls, startHttpLoad } from './http-load';
import { killAtRandom, ledgerByTenant, ledgerMismatches, startChild, stopChild, total } from './kill-loop';

/** Kills per run; override with CRASH_KILLS. */
const KILLS = Number(process.env.CRASH_KILLS ?? '8');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function frameworkCrashTest(app: 'express' | 'fastify'): void {
  jest.setTimeout(90_000);

  describe(`${app} with trackUsage on RedisStore, SIGKILLed under load`, () => {
    let redis: Redis;
    const prefix = uniquePrefix(`${app}-crash`);

    beforeAll(() => {
      redis = new Redis(REDIS_URL);
    });

    afterAll(async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    });

    it('has in its ledger every request and token clients received in full, and at most the cut-off ones more', async () => {
      const dir = buildCrashTree(['core', 'redis', 'express', 'fastify']);
      const script = path.join(dir, 'test-support', 'crash', 'crash-app.js');
      const port = await freePort();
      const env = childEnv({
        CRASH_APP: app,
        PORT: String(port),
        REDIS_URL,
        REDIS_PREFIX: prefix,
        DURABILITY: process.env.CRASH_DURABILITY ?? 'delivered',
      });
      const ids = `${app}${Date.now().toString(36)}`;
      const calls = mixedCalls(ids, 40, (tenant) => ({ 'x-tenant-id': tenant, 'x-user-id': 'u1' }), {
        get: '/api/get',
        llm: (a, b) => `/api/llm?a=${a}&b=${b}`,
        stream: (a, b) => `/api/stream?a=${a}&b=${b}`,
      });
      const load = startHttpLoad(port, 16, calls);
      const { last, killed } = await killAtRandom(() => startChild(script, env), KILLS, [300, 1500]);
      await sleep(300);
      await load.stop();
      expect(await stopChild(last)).toBe(0);
      const ledger = await ledgerByTenant(new RedisStore({ client: redis, prefix }));
      const { received, cut, refused, wrong } = load.tallies;
      console.log(
        `${app} crash test: ${killed} kills, received ${JSON.stringify(total(received))}, cut off ${JSON.stringify(total(cut))}, refused ${refused}, ledger ${JSON.stringify(total(ledger))}`,
      );
      expect(killed).toBe(KILLS);
      expect(wrong).toEqual([]);
      // Enough traffic to mean something, even on a loaded machine.
      expect(total(received).requests).toBeGreaterThan(100);
      expect(ledgerMismatches(received, cut, ledger)).toEqual([]);
    });
  });
}
