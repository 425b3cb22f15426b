// Delivered means counted at the gateway: a gateway process (Redis, no inline flusher) SIGKILLed at random moments
// while two hot tenants and many cold ones send GETs and streamed and non-streamed LLM calls, restarted on the same
// port; every request and token clients received in full is in the ledger, at most the cut-off ones more (was: 228
// requests and 103 tokens missing after eight kills, ~28 a kill).
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisStore } from '@tollgate/redis';
import { createTestDatabase, freePort, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { buildCrashTree, childEnv } from '../../../../test-support/crash/child-tree';
import { isJson, startHttpLoad, type Call } from '../../../../test-support/crash/http-load';
import {
  killAtRandom,
  ledgerByTenant,
  ledgerMismatches,
  startChild,
  stopChild,
  total,
} from '../../../../test-support/crash/kill-loop';
import { LlmUpstream } from '../support/llm-upstream';
import { METERED_CONFIG, SECRET, configFile, token } from '../support/kit';

const KILLS = Number(process.env.CRASH_KILLS ?? '8');
/** More than any one call of this test's upstream reports (a cut-off call may have been counted). */
const MOST_TOKENS_A_CALL = 5000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

jest.setTimeout(120_000);

/** prompt + completion tokens of an OpenAI answer (the `tokens` meter: input, cache reads and output). */
function usageTokens(u: { prompt_tokens: number; completion_tokens: number }): number {
  return u.prompt_tokens + u.completion_tokens;
}

function streamedTokens(body: string): number {
  for (const line of body.split('\n')) {
    if (!line.startsWith('data: {')) continue;
    const chunk = JSON.parse(line.slice(6)) as {
      usage?: { prompt_tokens: number; completion_tokens: number };
    };
    if (chunk.usage) return usageTokens(chunk.usage);
  }
  return 0;
}

describe('a gateway SIGKILLed under load', () => {
  let upstream: LlmUpstream;
  let db: { url: string; drop: () => Promise<void> };
  let redis: Redis;
  const prefix = uniquePrefix('gw-crash');

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_crash');
    redis = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await upstream?.stop();
    await db?.drop();
  });

  it('has in its ledger every request and token clients received in full, and at most the cut-off ones more', async () => {
    const dir = buildCrashTree(['core', 'redis', 'express', 'ledger'], ['gateway']);
    const script = path.join(dir, 'test-support', 'crash', 'gateway-child.js');
    const port = await freePort();
    const env = childEnv({
      PORT: String(port),
      HOST: '127.0.0.1',
      JWT_SECRET: SECRET,
      LOG_LEVEL: 'silent',
      UPSTREAM_URL: upstream.url,
      STRIP_PREFIX: '/api',
      REDIS_URL,
      REDIS_PREFIX: prefix,
      DATABASE_URL: db.url,
      FLUSHER: 'off',
      TOLLGATE_CONFIG: configFile(METERED_CONFIG),
      STORE_TIMEOUT_MS: '2000',
      DURABILITY: process.env.CRASH_DURABILITY ?? 'delivered',
    });
    const ids = `gw${Date.now().toString(36)}`;
    const tenants = [`${ids}hot0`, `${ids}hot1`, ...Array.from({ length: 40 }, (_, i) => `${ids}cold${i}`)];
    const bearer = new Map(
      tenants.map((t) => [t, `Bearer ${token({ sub: 'u1', tenant_id: t, tier: 'free' })}`]),
    );
    const next = (): Call => {
      const tenant =
        Math.random() < 0.7
          ? tenants[Math.floor(Math.random() * 2)]!
          : tenants[2 + Math.floor(Math.random() * 40)]!;
      const r = Math.random();
      const headers = { authorization: bearer.get(tenant)! };
      if (r < 0.5)
        return { tenant, path: `/api/data/${Math.floor(r * 100)}`, headers, tokens: 0, complete: isJson };
      const stream = r >= 0.75;
      const body = JSON.stringify({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: `hello ${'x'.repeat(Math.floor(Math.random() * 200))}` }],
        ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
      });
      return {
        tenant,
        method: 'POST',
        path: '/api/v1/chat/completions',
        headers: { ...headers, 'content-type': 'application/json' },
        body,
        tokens: stream ? streamedTokens : (b) => usageTokens((JSON.parse(b) as { usage: never }).usage),
        cutTokens: MOST_TOKENS_A_CALL,
        complete: stream ? (b) => b.endsWith('data: [DONE]\n\n') : isJson,
      };
    };
    const load = startHttpLoad(port, 16, next);
    const { last, killed } = await killAtRandom(() => startChild(script, env), KILLS, [400, 1500]);
    await sleep(300);
    await load.stop();
    expect(await stopChild(last)).toBe(0);
    const ledger = await ledgerByTenant(new RedisStore({ client: redis, prefix }));
    const { received, cut, refused, wrong } = load.tallies;
    console.log(
      `gateway crash test: ${killed} kills, received ${JSON.stringify(total(received))}, cut off ${JSON.stringify(total(cut))}, refused ${refused}, ledger ${JSON.stringify(total(ledger))}`,
    );
    expect(killed).toBe(KILLS);
    expect(wrong).toEqual([]);
    // Enough traffic to mean something, even on a loaded machine.
    expect(total(received).requests).toBeGreaterThan(100);
    expect(total(received).tokens).toBeGreaterThan(0);
    expect(ledgerMismatches(received, cut, ledger)).toEqual([]);
  });
});
