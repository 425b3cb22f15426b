// Many concurrent reserved LLM calls of one subject, settled in summed ops: counters and ledger must be exact.
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { LlmUpstream, deferred } from '../support/llm-upstream';
import {
  METERED_CONFIG,
  dayCounters,
  ledgerByMeter,
  pico,
  startGateway,
  token,
  type RunningGateway,
} from '../support/kit';

const BUDGET = 5000;

describe('reserved LLM calls admitted and settled together (Redis)', () => {
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
      {
        config: {
          ...METERED_CONFIG,
          plans: { ...METERED_CONFIG.plans, budget: { limits: { tokens: { day: BUDGET } } } },
        },
      },
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
  /** A call that reserves exactly `tokens`: ceil(40 / 4) = 10 for the prompt, the rest as max_tokens. */
  const sized = (t: string, tokens: number) =>
    fetch(`${gw.url}/api/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o',
        max_tokens: tokens - 10,
        messages: [{ role: 'user', content: 'q'.repeat(40) }],
      }),
    });

  it("fires a token threshold when the settled usage reaches it, never on a call's max_tokens estimate", async () => {
    const t = token({ sub: 'u-warn', tenant_id: 't-warn', tier: 'budget' });
    const thresholds = async () => {
      await gw.gateway.idle();
      await gw.gateway.flusher!.flushOnce();
      const res = await gw.gateway.sql.query<{ details: { threshold: number; used: number } }>(
        "SELECT details FROM usage_events WHERE tenant_id = 't-warn' AND type = 'threshold' AND meter = 'tokens'",
      );
      return res.rows.map((r) => [r.details.threshold, r.details.used]);
    };
    const start = upstream.reported.length;
    // 4500 of the 5000 tokens held while the call runs (past 80 % and 90 %), about 100 used.
    const big = await sized(t, 4500);
    expect(big.status).toBe(200);
    await big.text();
    expect(await thresholds()).toEqual([]);
    // Small calls until the used tokens pass 80 %: that threshold fires once, naming the used amount.
    let used = 0;
    while (used < 4000) {
      const r = await sized(t, 200);
      expect(r.status).toBe(200);
      await r.text();
      used = upstream.reported.slice(start).reduce((a, u) => a + u.input + u.cacheRead + u.output, 0);
    }
    expect(await thresholds()).toEqual([[80, used]]);
  });

  it('admits exactly as many concurrent reservations as the token budget holds, then settles each to its usage', async () => {
    const t = token({ sub: 'u-even', tenant_id: 't-even', tier: 'budget' });
    const before = upstream.reported.length;
    // 12 at once, 1000 tokens each against 5000: 5 fit, whatever grouping their admission gets.
    const responses = await Promise.all(Array.from({ length: 12 }, () => sized(t, 1000)));
    const statuses = responses.map((r) => r.status);
    const bodies = await Promise.all(responses.map((r) => r.text()));
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
    for (let i = 0; i < 12; i++)
      if (statuses[i] === 429)
        expect(JSON.parse(bodies[i]!)).toMatchObject({ meter: 'tokens', limit: BUDGET });
    const reported = upstream.reported.slice(before);
    const total = reported.reduce((a, u) => a + u.input + u.cacheRead + u.output, 0);
    await gw.gateway.idle();
    const c = await dayCounters(gw.gateway, { tenantId: 't-even', plan: 'budget' });
    expect(c).toMatchObject({ tokens: total });
  });

  it('never holds more than the budget for concurrent estimates of different sizes, and refuses only what does not fit', async () => {
    const t = token({ sub: 'u-mixed', tenant_id: 't-mixed', tier: 'budget' });
    const sizes = [3000, 2500, 2000, 1500, 1000, 500, 400, 300];
    const before = upstream.received.length;
    const gate = deferred();
    upstream.holdJson = gate.promise;
    const statuses: Array<number | null> = sizes.map(() => null);
    const calls = sizes.map((n, i) =>
      sized(t, n).then(async (r) => {
        statuses[i] = r.status;
        await r.text();
      }),
    );
    try {
      // Every call is either refused or reached the upstream, which holds it: all admitted ones are held at once.
      for (let waited = 0; ; waited += 10) {
        const refused = statuses.filter((s) => s === 429).length;
        if (refused + upstream.received.length - before === sizes.length) break;
        if (waited > 10_000) throw new Error('calls neither refused nor forwarded');
        await new Promise((r) => setTimeout(r, 10));
      }
      const refused = sizes.filter((_, i) => statuses[i] === 429);
      const admitted = sizes.filter((_, i) => statuses[i] !== 429);
      const held = admitted.reduce((a, n) => a + n, 0);
      expect(admitted.length).toBeGreaterThan(0);
      expect(held).toBeLessThanOrEqual(BUDGET);
      // Whatever the order, each refused estimate really did not fit beside those admitted.
      for (const n of refused) expect(held + n).toBeGreaterThan(BUDGET);
      const c = await dayCounters(gw.gateway, { tenantId: 't-mixed', plan: 'budget' });
      expect(c.tokens).toBe(held);
    } finally {
      gate.resolve();
      upstream.holdJson = null;
    }
    await Promise.all(calls);
    await gw.gateway.idle();
    const reported = upstream.reported.slice(-statuses.filter((s) => s === 200).length);
    const total = reported.reduce((a, u) => a + u.input + u.cacheRead + u.output, 0);
    expect((await dayCounters(gw.gateway, { tenantId: 't-mixed', plan: 'budget' })).tokens).toBe(total);
  });
});
