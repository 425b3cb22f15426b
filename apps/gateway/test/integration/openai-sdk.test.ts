import OpenAI from 'openai';
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

describe('the real openai client through the gateway', () => {
  let upstream: LlmUpstream;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };
  let n = 0;

  const client = (userId: string) =>
    new OpenAI({
      apiKey: token({ sub: userId, tenant_id: `t-${userId}`, tier: 'free' }),
      baseURL: `${gw.url}/api/v1`,
      maxRetries: 0,
    });
  const user = () => `oa-user-${++n}`;
  const aborted = async () =>
    Number(
      /outcome="client_aborted"\} (\d+)/.exec(await (await fetch(`${gw.url}/metrics`)).text())?.[1] ?? 0,
    );

  /** Counters and (after a flush) ledger rows must equal what the upstream reported, priced as gpt-4o. */
  async function expectMetered(userId: string, u: { input: number; cacheRead: number; output: number }) {
    await gw.gateway.idle();
    const cost = pico(u.input, '2.50') + pico(u.cacheRead, '1.25') + pico(u.output, '10.00');
    const c = await dayCounters(gw.gateway, { tenantId: `t-${userId}`, userId, plan: 'free' });
    expect(c).toMatchObject({
      requests: 1,
      input_tokens: u.input,
      cache_read_tokens: u.cacheRead,
      output_tokens: u.output,
      tokens: u.input + u.cacheRead + u.output,
      cost: Number(cost),
    });
    await gw.gateway.flusher!.flushOnce();
    const rows = await ledgerByMeter(gw.gateway.sql, userId);
    expect(rows.requests?.amount).toBe(1);
    expect(rows.input_tokens).toEqual({
      amount: u.input,
      costPico: pico(u.input, '2.50').toString(),
      models: 'openai/gpt-4o',
    });
    expect(rows.cache_read_tokens).toEqual({
      amount: u.cacheRead,
      costPico: pico(u.cacheRead, '1.25').toString(),
      models: 'openai/gpt-4o',
    });
    expect(rows.output_tokens).toEqual({
      amount: u.output,
      costPico: pico(u.output, '10.00').toString(),
      models: 'openai/gpt-4o',
    });
    expect(rows.tokens).toMatchObject({ amount: u.input + u.cacheRead + u.output, costPico: '0' });
  }

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_openai');
    gw = await startGateway(
      {
        UPSTREAM_URL: upstream.url,
        STRIP_PREFIX: '/api',
        REDIS_URL,
        REDIS_PREFIX: uniquePrefix('gw-openai'),
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

  it('returns a JSON completion intact and meters the reported tokens and exact cost of a dated model', async () => {
    const id = user();
    const res = await client(id).chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    const u = upstream.reported[upstream.reported.length - 1]!;
    expect(res.model).toBe('gpt-4o-2024-08-06');
    expect(res.choices[0]!.message.content).toBe('w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11');
    expect(res.usage).toMatchObject({ prompt_tokens: u.input + u.cacheRead, completion_tokens: u.output });
    expect(upstream.last().url).toBe('/v1/chat/completions');
    await expectMetered(id, u);
  });

  it('streams a completion, asks the upstream for usage, and hides the usage chunk the client did not ask for', async () => {
    const id = user();
    const stream = await client(id).chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Stream to me, please' }],
      stream: true,
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(JSON.parse(upstream.last().body).stream_options).toEqual({ include_usage: true });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(
      'w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11',
    );
    expect(chunks.every((c) => c.choices.length === 1 && !('usage' in c))).toBe(true);
    await expectMetered(id, upstream.reported[upstream.reported.length - 1]!);
  });

  it('passes the usage chunk through to a client that asked for it', async () => {
    const id = user();
    const stream = await client(id).chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'With usage' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const u = upstream.reported[upstream.reported.length - 1]!;
    const last = chunks[chunks.length - 1]!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: u.input + u.cacheRead, completion_tokens: u.output });
    await expectMetered(id, u);
  });

  it('delivers the first chunk of a stream before the upstream has finished it', async () => {
    const id = user();
    const gate = deferred();
    const order: string[] = [];
    upstream.hold = gate.promise;
    upstream.onStreamEnd = () => order.push('upstream finished');
    try {
      const stream = await client(id).chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'first byte' }],
        stream: true,
      });
      const it = stream[Symbol.asyncIterator]();
      const first = await it.next();
      order.push('client got first chunk');
      expect(first.done).toBe(false);
      gate.resolve();
      for (let r = await it.next(); !r.done; r = await it.next());
      order.push('client done');
    } finally {
      upstream.hold = null;
      upstream.onStreamEnd = null;
    }
    expect(order).toEqual(['client got first chunk', 'upstream finished', 'client done']);
  });

  it('reads usage from a gzip-encoded response while passing the encoded bytes through', async () => {
    const id = user();
    const res = await client(id).chat.completions.create(
      { model: 'gpt-4o', messages: [{ role: 'user', content: 'zip it' }] },
      { headers: { 'x-test-gzip': '1' } },
    );
    expect(res.choices[0]!.message.content).toBe('zipped');
    await expectMetered(id, upstream.reported[upstream.reported.length - 1]!);
    const raw = await fetch(`${gw.url}/api/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token({ sub: user() })}`,
        'content-type': 'application/json',
        'x-test-gzip': '1',
      },
      body: JSON.stringify({ model: 'gpt-4o', messages: [] }),
    });
    expect(raw.headers.get('content-encoding')).toBe('gzip');
    expect((await raw.json()).choices[0].message.content).toBe('zipped');
  });

  it('still counts what streamed when the client aborts mid-stream, flagged as estimated', async () => {
    const id = user();
    const gate = deferred();
    const abandoned = deferred();
    upstream.hold = gate.promise;
    upstream.onStreamAbandoned = abandoned.resolve;
    const abort = new AbortController();
    const prompt = 'x'.repeat(400);
    try {
      const res = await fetch(`${gw.url}/api/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token({ sub: id, tenant_id: `t-${id}`, tier: 'free' })}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          model: 'gpt-4o',
          stream: true,
          messages: [{ role: 'user', content: prompt }],
        }),
        signal: abort.signal,
      });
      const reader = res.body!.getReader();
      let seen = '';
      // Read until the first word arrived: the gateway has certainly seen it by then.
      while (!seen.includes('"content":"w0"')) seen += new TextDecoder().decode((await reader.read()).value);
      abort.abort();
      await reader.read().catch(() => undefined);
      // The gateway drops the upstream stream when its client leaves.
      await abandoned.promise;
    } finally {
      gate.resolve();
      upstream.hold = null;
      upstream.onStreamAbandoned = null;
    }
    await gw.gateway.idle();
    const c = await dayCounters(gw.gateway, { tenantId: `t-${id}`, userId: id, plan: 'free' });
    // Nothing reported by the provider: the prompt (400 chars) and what streamed, estimated at chars / 4.
    expect(c.requests).toBe(1);
    expect(c.input_tokens).toBe(100);
    // Streamed before the abort: the role chunk and "w0" (2 characters, 1 token).
    expect(c.output_tokens).toBe(1);
    await gw.gateway.flusher!.flushOnce();
    const est = await gw.gateway.sql.query<{ estimated: boolean; amount: string }>(
      `SELECT estimated, sum(amount)::text AS amount FROM usage_ledger WHERE user_id = $1 AND meter = 'input_tokens' GROUP BY estimated`,
      [id],
    );
    expect(est.rows).toEqual([{ estimated: true, amount: '100' }]);
  });
  it('reads a JSON answer to its end after its client left, and counts the reported usage', async () => {
    const id = user();
    const gate = deferred();
    const done = deferred();
    upstream.holdJson = gate.promise;
    upstream.onJsonEnd = done.resolve;
    const abort = new AbortController();
    try {
      const res = await fetch(`${gw.url}/api/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token({ sub: id, tenant_id: `t-${id}`, tier: 'free' })}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'slow json' }] }),
        signal: abort.signal,
      });
      await res.body!.getReader().read();
      const before = await aborted();
      abort.abort();
      // The gateway has seen the client go (its close counted) before the upstream finishes the answer.
      while ((await aborted()) === before) await new Promise((r) => setTimeout(r, 10));
    } finally {
      gate.resolve();
      upstream.holdJson = null;
    }
    await done.promise;
    upstream.onJsonEnd = null;
    await expectMetered(id, upstream.reported[upstream.reported.length - 1]!);
  });

  it('forwards a chunked request body with a Content-Length once it had to rewrite it', async () => {
    const id = user();
    const json = JSON.stringify({
      model: 'gpt-4o',
      stream: true,
      messages: [{ role: 'user', content: 'chunked body' }],
    });
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(json.slice(0, 10)));
        controller.enqueue(new TextEncoder().encode(json.slice(10)));
        controller.close();
      },
    });
    const res = await fetch(`${gw.url}/api/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token({ sub: id, tenant_id: `t-${id}`, tier: 'free' })}`,
        'content-type': 'application/json',
      },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(200);
    await res.text();
    const seen = upstream.last();
    expect(seen.headers['transfer-encoding']).toBeUndefined();
    expect(Number(seen.headers['content-length'])).toBe(Buffer.byteLength(seen.body));
    expect(JSON.parse(seen.body)).toEqual({ ...JSON.parse(json), stream_options: { include_usage: true } });
    await expectMetered(id, upstream.reported[upstream.reported.length - 1]!);
  });

  it('exposes tokens metered by source and the inline flush lag in /metrics', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(/tollgate_tokens_metered_total\{meter="output_tokens",source="reported"\} [1-9]\d*/);
    expect(text).toMatch(/tollgate_tokens_metered_total\{meter="input_tokens",source="estimated"\} 100/);
    expect(text).toMatch(/tollgate_flush_lag_seconds \d/);
    expect(text).toMatch(/tollgate_gateway_requests_total\{outcome="ok"\} \d+/);
  });
});
