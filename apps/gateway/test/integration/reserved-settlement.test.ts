// Many concurrent reserved LLM calls of one subject, settled in summed ops: counters and ledger must be exact.
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import {
  METERED_CONFIG,
  dayCounters,
  ledgerByMeter,
  pico,
  startGateway,
  token,
  type RunningGateway,
} from '../support/kit';

describe('reserved LLM calls settled together (Redis)', () => {
  let upstream: LlmUpstream;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_reserved');
    gw = await startGateway(
      {
        UPSTREAM_URL: upstream.url,
        STRIP_PREFIX: '/api',
        REDIS_URL,
        REDIS_PREFIX: uniquePrefix('gw-reserved'),
        DATABASE_URL: db.url,
        FLUSHER: 'inline',
        FLUSH_INTERVAL_MS: '600000',
      },
      { config: METERED_CONFIG },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  const chat = (t: string, i: number, fail: boolean) =>
    fetch(`${gw.url}/api/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${t}`,
        'content-type': 'application/json',
        ...(fail ? { 'x-test-status': '503' } : {}),
      },
      // Distinct prompt sizes: every call reports different usage, and reserves prompt/4 + 500.
      body: JSON.stringify({
        model: 'gpt-4o',
        max_tokens: 500,
        messages: [{ role: 'user', content: 'z'.repeat(20 + i * 13) }],
      }),
    });

  it('counts exactly the reported tokens and cost of 60 concurrent calls, every reservation undone once', async () => {
    const userId = 'u-many';
    const t = token({ sub: userId, tenant_id: 't-many', tier: 'free' });
    const before = upstream.reported.length;
    // Every fifth call fails upstream: its reservation is released with nothing recorded.
    const responses = await Promise.all(Array.from({ length: 60 }, (_, i) => chat(t, i, i % 5 === 4)));
    const statuses = responses.map((r) => r.status);
    await Promise.all(responses.map((r) => r.text()));
    expect(statuses.filter((s) => s === 200)).toHaveLength(48);
    expect(statuses.filter((s) => s === 503)).toHaveLength(12);
    const reported = upstream.reported.slice(before);
    expect(reported).toHaveLength(48);
    const input = reported.reduce((a, u) => a + u.input, 0);
    const cacheRead = reported.reduce((a, u) => a + u.cacheRead, 0);
    const output = reported.reduce((a, u) => a + u.output, 0);
    const cost = pico(input, '2.50') + pico(cacheRead, '1.25') + pico(output, '10.00');

    await gw.gateway.idle();
    const c = await dayCounters(gw.gateway, { tenantId: 't-many', userId, plan: 'free' });
    // Any reservation still held (or undone twice) would show in `tokens` and `output_tokens`.
    expect(c).toMatchObject({
      requests: 60,
      input_tokens: input,
      cache_read_tokens: cacheRead,
      output_tokens: output,
      tokens: input + cacheRead + output,
      cost: Number(cost),
    });

    await gw.gateway.flusher!.flushOnce();
    const rows = await ledgerByMeter(gw.gateway.sql, userId);
    expect(rows.requests?.amount).toBe(60);
    expect(rows.errors?.amount).toBe(12);
    expect(rows.input_tokens).toEqual({
      amount: input,
      costPico: pico(input, '2.50').toString(),
      models: 'openai/gpt-4o',
    });
    expect(rows.cache_read_tokens).toEqual({
      amount: cacheRead,
      costPico: pico(cacheRead, '1.25').toString(),
      models: 'openai/gpt-4o',
    });
    expect(rows.output_tokens).toEqual({
      amount: output,
      costPico: pico(output, '10.00').toString(),
      models: 'openai/gpt-4o',
    });
    expect(rows.tokens).toMatchObject({ amount: input + cacheRead + output, costPico: '0' });
  });
});
