import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { dayCounters, ledgerByMeter, startGateway, token, type RunningGateway } from '../support/kit';

const LIMIT = 20;
const TOKENS = 1000;

describe('quotas through the gateway (Redis)', () => {
  let upstream: LlmUpstream;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_quota');
    gw = await startGateway(
      {
        UPSTREAM_URL: upstream.url,
        REDIS_URL,
        REDIS_PREFIX: uniquePrefix('gw-quota'),
        DATABASE_URL: db.url,
        FLUSHER: 'inline',
        FLUSH_INTERVAL_MS: '600000',
      },
      {
        config: {
          plans: {
            free: { limits: { requests: { day: LIMIT }, tokens: { day: TOKENS } } },
            trial: { limits: { requests: { total: 2 } } },
          },
          pricing: { 'openai/gpt-4o': { input: '2.50', output: '10.00' } },
        },
      },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  it('admits exactly the limit under 60 concurrent requests and answers the rest with 429 problem+json', async () => {
    const t = token({ sub: 'u-burst', tenant_id: 'burst', tier: 'free' });
    const responses = await Promise.all(
      Array.from({ length: 60 }, () =>
        fetch(`${gw.url}/api/hello`, { headers: { authorization: `Bearer ${t}` } }),
      ),
    );
    const ok = responses.filter((r) => r.status === 200);
    const rejected = responses.filter((r) => r.status === 429);
    expect(ok).toHaveLength(LIMIT);
    expect(rejected).toHaveLength(60 - LIMIT);
    for (const r of ok) {
      expect(r.headers.get('ratelimit-policy')).toMatch(/q=20/);
      expect(r.headers.get('ratelimit')).toMatch(/r=\d+/);
      await r.text();
    }
    const r = rejected[0]!;
    expect(r.headers.get('content-type')).toBe('application/problem+json');
    const retryAfter = Number(r.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1).toBe(true);
    const body = (await r.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 429,
      scope: 'tenant',
      meter: 'requests',
      period: 'day',
      limit: LIMIT,
      used: LIMIT,
    });
    expect(new Date(body.resetsAt as string).getTime()).toBeGreaterThan(Date.now());
    await Promise.all(rejected.slice(1).map((x) => x.text()));
    await gw.gateway.idle();
    expect((await dayCounters(gw.gateway, { tenantId: 'burst', plan: 'free' })).requests).toBe(LIMIT);
  });

  it('never lets concurrent LLM calls spend past the token budget: each reserves prompt/4 + max_tokens first', async () => {
    const t = token({ sub: 'u-tok', tenant_id: 'tok', tier: 'free' });
    // Each call reserves ceil(40/4) + 190 = 200 tokens: at most 5 fit in 1000 at once.
    const call = () =>
      fetch(`${gw.url}/api/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'gpt-4o',
          max_tokens: 190,
          messages: [{ role: 'user', content: 'y'.repeat(40) }],
        }),
      });
    upstream.chunkDelayMs = 0;
    const responses = await Promise.all(Array.from({ length: 12 }, call));
    const statuses = responses.map((r) => r.status);
    await Promise.all(responses.map((r) => r.text()));
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    await gw.gateway.idle();
    const c = await dayCounters(gw.gateway, { tenantId: 'tok', plan: 'free' });
    expect(c.tokens).toBeLessThanOrEqual(TOKENS);
    expect(c.requests).toBe(statuses.filter((s) => s === 200).length);
  });

  it('releases the token reservation on an upstream 5xx and counts the error', async () => {
    const t = token({ sub: 'u-5xx', tenant_id: 'five', tier: 'free' });
    const res = await fetch(`${gw.url}/api/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json', 'x-test-status': '503' },
      body: JSON.stringify({
        model: 'gpt-4o',
        max_tokens: 500,
        messages: [{ role: 'user', content: 'fail' }],
      }),
    });
    expect(res.status).toBe(503);
    await res.text();
    await gw.gateway.idle();
    const c = await dayCounters(gw.gateway, { tenantId: 'five', plan: 'free' });
    expect(c).toMatchObject({ requests: 1, tokens: 0 });
    await gw.gateway.flusher!.flushOnce();
    const rows = await ledgerByMeter(gw.gateway.sql, 'u-5xx');
    expect(rows.errors?.amount).toBe(1);
    expect(rows.tokens).toBeUndefined();
  });

  it('answers 403 without Retry-After when a total limit is used up', async () => {
    const t = token({ sub: 'u-trial', tenant_id: 'trial-co', tier: 'trial' });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${gw.url}/api/hello`, { headers: { authorization: `Bearer ${t}` } });
      statuses.push(r.status);
      if (r.status === 403) {
        expect(r.headers.get('retry-after')).toBeNull();
        expect(await r.json()).toMatchObject({
          status: 403,
          meter: 'requests',
          period: 'total',
          resetsAt: null,
        });
      } else await r.text();
    }
    expect(statuses).toEqual([200, 200, 403]);
  });
});
