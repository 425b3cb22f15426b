// Redis persistence under the durability promise: a redis-server with AOF and `appendfsync always`, SIGKILLed under
// load and restarted on the same port, loses nothing that was delivered (a write it acknowledged is on disk; one it
// never answered was buffered by the app and is replayed under its op id). CRASH_REDIS_ARGS='--appendonly no' runs
// the same test against other persistence settings.
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisStore } from '@tollgate/redis';
import { OwnedRedis, freePort } from '../../../../test-support/services';
import { buildCrashTree, childEnv } from '../../../../test-support/crash/child-tree';
import { mixedCalls, startHttpLoad } from '../../../../test-support/crash/http-load';
import {
  ledgerByTenant,
  ledgerMismatches,
  startChild,
  stopChild,
  total,
} from '../../../../test-support/crash/kill-loop';

const KILLS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

jest.setTimeout(90_000);

describe('Redis with appendfsync always, SIGKILLed under load', () => {
  let owned: OwnedRedis;

  beforeAll(async () => {
    const args = process.env.CRASH_REDIS_ARGS?.split(' ') ?? [];
    owned = await OwnedRedis.start(['--appendonly', 'yes', '--appendfsync', 'always', ...args]);
  });

  afterAll(async () => {
    await owned?.destroy();
  });

  it('keeps every request and token clients received in full', async () => {
    const dir = buildCrashTree(['core', 'redis', 'express', 'fastify']);
    const script = path.join(dir, 'test-support', 'crash', 'crash-app.js');
    const port = await freePort();
    const prefix = 'tgtest:aof:';
    const app = await startChild(
      script,
      childEnv({ CRASH_APP: 'express', PORT: String(port), REDIS_URL: owned.url, REDIS_PREFIX: prefix }),
    );
    const calls = mixedCalls('aof', 20, (tenant) => ({ 'x-tenant-id': tenant, 'x-user-id': 'u1' }), {
      get: '/api/get',
      llm: (a, b) => `/api/llm?a=${a}&b=${b}`,
      stream: (a, b) => `/api/stream?a=${a}&b=${b}`,
    });
    const load = startHttpLoad(port, 16, calls);
    for (let i = 0; i < KILLS; i++) {
      await sleep(800 + Math.random() * 800);
      await owned.stop();
      await owned.start();
    }
    await sleep(800);
    await load.stop();
    // The app replays what it buffered while Redis was away, then stops.
    expect(await stopChild(app)).toBe(0);
    const client = new Redis(owned.url);
    const ledger = await ledgerByTenant(new RedisStore({ client, prefix }));
    client.disconnect();
    const { received, cut, wrong } = load.tallies;
    console.log(
      `AOF crash test: ${KILLS} Redis kills, received ${JSON.stringify(total(received))}, cut off ${JSON.stringify(total(cut))}, ledger ${JSON.stringify(total(ledger))}`,
    );
    expect(wrong).toEqual([]);
    // Enough traffic to mean something, even on a loaded machine.
    expect(total(received).requests).toBeGreaterThan(100);
    expect(ledgerMismatches(received, cut, ledger)).toEqual([]);
  });
});
