import { MemoryStore } from '@tollgate/core';
import { createTestDatabase } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { ledgerByMeter, pico, startGateway, token, type RunningGateway } from '../support/kit';

const plans = { free: { limits: { requests: { day: 1000 }, tokens: { day: 1_000_000 } } } };

describe('pricing at the gateway', () => {
  let upstream: LlmUpstream;
  let db: { url: string; drop: () => Promise<void> };
  let flag: RunningGateway;
  let block: RunningGateway;

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_pricing');
    const env = {
      UPSTREAM_URL: upstream.url,
      DATABASE_URL: db.url,
      FLUSHER: 'inline',
      FLUSH_INTERVAL_MS: '600000',
    };
    const pricing = {
      'openai/gpt-4o': { input: '2.50', output: '10.00', cacheRead: '1.25' },
      'gemini/gemini-2.0-flash': { input: '0.10', output: '0.40', cacheRead: '0.025' },
    };
    flag = await startGateway(env, {
      store: new MemoryStore(),
      config: { plans, pricing, unpricedModel: 'flag' },
    });
    block = await startGateway(env, {
      store: new MemoryStore(),
      config: { plans, pricing, unpricedModel: 'block' },
    });
  });

  afterAll(async () => {
    await flag?.close();
    await block?.close();
    await upstream?.stop();
    await db?.drop();
  });

  const chat = (gw: RunningGateway, userId: string, model: string) =>
    fetch(`${gw.url}/api/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token({ sub: userId })}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'price me' }] }),
    });

  it('flag: meters an unpriced model at zero cost under the name the provider reported', async () => {
    const res = await chat(flag, 'u-flag', 'mystery-model');
    expect(res.status).toBe(200);
    await res.text();
    const u = upstream.reported[upstream.reported.length - 1]!;
    await flag.gateway.idle();
    await flag.gateway.flusher!.flushOnce();
    const rows = await ledgerByMeter(flag.gateway.sql, 'u-flag');
    expect(rows.input_tokens).toEqual({ amount: u.input, costPico: '0', models: 'mystery-model' });
    expect(rows.output_tokens).toEqual({ amount: u.output, costPico: '0', models: 'mystery-model' });
    expect(rows.cost).toBeUndefined();
  });

  it('block: refuses a request for an unpriced model with 403 problem+json before it reaches the upstream', async () => {
    const before = upstream.received.length;
    const res = await chat(block, 'u-block', 'mystery-model');
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({
      status: 403,
      title: 'Model not priced',
      model: 'mystery-model',
    });
    expect(upstream.received.length).toBe(before);
    const ok = await chat(block, 'u-block', 'gpt-4o');
    expect(ok.status).toBe(200);
    await ok.text();
  });

  it('reads Gemini usageMetadata and prices a versioned model name under its gemini/ key', async () => {
    const res = await fetch(`${flag.url}/api/v1beta/models/gemini-2.0-flash:generateContent`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token({ sub: 'u-gemini' })}`, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'hello gemini' }] }] }),
    });
    expect(res.status).toBe(200);
    expect((await res.json()).candidates[0].content.parts[0].text).toBe('gemini says hi');
    const u = upstream.reported[upstream.reported.length - 1]!;
    await flag.gateway.idle();
    await flag.gateway.flusher!.flushOnce();
    const rows = await ledgerByMeter(flag.gateway.sql, 'u-gemini');
    const key = 'gemini/gemini-2.0-flash';
    expect(rows.input_tokens).toEqual({
      amount: u.input,
      costPico: pico(u.input, '0.10').toString(),
      models: key,
    });
    expect(rows.cache_read_tokens).toEqual({ amount: 4, costPico: pico(4, '0.025').toString(), models: key });
    expect(rows.output_tokens).toEqual({ amount: 9, costPico: pico(9, '0.40').toString(), models: key });
  });
});
