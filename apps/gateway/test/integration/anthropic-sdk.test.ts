import Anthropic from '@anthropic-ai/sdk';
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

describe('the real @anthropic-ai/sdk client through the gateway', () => {
  let upstream: LlmUpstream;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };
  let n = 0;
  const user = () => `an-user-${++n}`;
  const client = (userId: string) =>
    new Anthropic({
      authToken: token({ sub: userId, tenant_id: `t-${userId}`, tier: 'free' }),
      baseURL: `${gw.url}/api`,
      maxRetries: 0,
    });

  /** Counters and ledger equal what the upstream reported, priced as claude-sonnet-4 (cache reads and writes included). */
  async function expectMetered(
    userId: string,
    u: { input: number; cacheRead: number; cacheWrite: number; output: number },
  ) {
    await gw.gateway.idle();
    const cost =
      pico(u.input, '3.00') +
      pico(u.cacheRead, '0.30') +
      pico(u.cacheWrite, '3.75') +
      pico(u.output, '15.00');
    const c = await dayCounters(gw.gateway, { tenantId: `t-${userId}`, userId, plan: 'free' });
    expect(c).toMatchObject({
      requests: 1,
      input_tokens: u.input,
      cache_read_tokens: u.cacheRead,
      cache_write_tokens: u.cacheWrite,
      output_tokens: u.output,
      tokens: u.input + u.cacheRead + u.cacheWrite + u.output,
      cost: Number(cost),
    });
    await gw.gateway.flusher!.flushOnce();
    const rows = await ledgerByMeter(gw.gateway.sql, userId);
    const model = 'anthropic/claude-sonnet-4';
    expect(rows.input_tokens).toEqual({
      amount: u.input,
      costPico: pico(u.input, '3.00').toString(),
      models: model,
    });
    expect(rows.cache_read_tokens).toEqual({
      amount: u.cacheRead,
      costPico: pico(u.cacheRead, '0.30').toString(),
      models: model,
    });
    expect(rows.cache_write_tokens).toEqual({
      amount: u.cacheWrite,
      costPico: pico(u.cacheWrite, '3.75').toString(),
      models: model,
    });
    expect(rows.output_tokens).toEqual({
      amount: u.output,
      costPico: pico(u.output, '15.00').toString(),
      models: model,
    });
  }

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_anthropic');
    gw = await startGateway(
      {
        UPSTREAM_URL: upstream.url,
        STRIP_PREFIX: '/api',
        UPSTREAM_AUTHORIZATION: 'Bearer sk-ant-upstream-key',
        REDIS_URL,
        REDIS_PREFIX: uniquePrefix('gw-anthropic'),
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

  it('returns a message intact and meters input, cache reads, cache writes and output of the dated model', async () => {
    const id = user();
    const msg = await client(id).messages.create({
      model: 'claude-sonnet-4',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'Hello, Claude' }],
    });
    expect(msg.model).toBe('claude-sonnet-4-20250514');
    expect(msg.content).toEqual([{ type: 'text', text: 'w0 w1 w2 w3 w4 w5 w6 w7 w8 w9' }]);
    const seen = upstream.last();
    expect(seen.url).toBe('/v1/messages');
    // The upstream gets the configured credentials, never the client's JWT.
    expect(seen.headers.authorization).toBe('Bearer sk-ant-upstream-key');
    expect(JSON.stringify(seen.headers)).not.toContain(token({ sub: id }).split('.')[0]! + '.' + 'x');
    await expectMetered(id, upstream.reported[upstream.reported.length - 1]!);
  });

  it('streams a message and counts the cumulative message_delta usage once, never added to message_start', async () => {
    const id = user();
    const stream = client(id).messages.stream({
      model: 'claude-sonnet-4',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'Stream please' }],
    });
    const text: string[] = [];
    stream.on('text', (t) => text.push(t));
    const final = await stream.finalMessage();
    const u = upstream.reported[upstream.reported.length - 1]!;
    expect(text.join('')).toBe('w0 w1 w2 w3 w4 w5 w6 w7 w8 w9');
    expect(final.usage).toMatchObject({ input_tokens: u.input, output_tokens: u.output });
    await expectMetered(id, u);
  });

  it('delivers the first event before the upstream finishes the stream', async () => {
    const id = user();
    const gate = deferred();
    const order: string[] = [];
    upstream.hold = gate.promise;
    upstream.onStreamEnd = () => order.push('upstream finished');
    try {
      const stream = await client(id).messages.create({
        model: 'claude-sonnet-4',
        max_tokens: 64,
        stream: true,
        messages: [{ role: 'user', content: 'first byte' }],
      });
      const it = stream[Symbol.asyncIterator]();
      const first = await it.next();
      order.push(`client got ${(first.value as { type: string }).type}`);
      gate.resolve();
      for (let r = await it.next(); !r.done; r = await it.next());
      order.push('client done');
    } finally {
      upstream.hold = null;
      upstream.onStreamEnd = null;
    }
    expect(order).toEqual(['client got message_start', 'upstream finished', 'client done']);
  });
});
