// Issue 19: LLM bodies the gateway did not read but the upstream did were forwarded unmetered; overflows and slow bodies.
import { gzipSync } from 'node:zlib';
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { METERED_CONFIG, dayCounters, startGateway, token, type RunningGateway } from '../support/kit';
import { rawRequest, stalledBody } from '../support/raw-http';

const PATH = '/api/v1/chat/completions';
const PROMPT = Array.from({ length: 4000 }, (_, i) => `word${i % 10}`).join(' ');
const STREAM = JSON.stringify({
  model: 'gpt-4o',
  stream: true,
  max_tokens: 12,
  messages: [{ role: 'user', content: PROMPT }],
});

describe('issue 19: what the gateway cannot meter is never forwarded', () => {
  let upstream: LlmUpstream;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };
  let n = 0;

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_issue19_body');
    gw = await startGateway(
      {
        UPSTREAM_URL: upstream.url,
        STRIP_PREFIX: '/api',
        REDIS_URL,
        REDIS_PREFIX: uniquePrefix('gw-issue19-body'),
        DATABASE_URL: db.url,
        FLUSHER: 'inline',
        FLUSH_INTERVAL_MS: '600000',
        HEADERS_TIMEOUT_MS: '500',
        REQUEST_TIMEOUT_MS: '1000',
      },
      { config: { ...METERED_CONFIG, unpricedModel: 'block' } },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  const auth = (sub: string) => ({ authorization: `Bearer ${token({ sub })}` });

  it.each([
    ['no Content-Type', {}],
    ['Connection: content-type', { 'content-type': 'application/json', connection: 'content-type' }],
    ['Content-Encoding: IDENTITY', { 'content-type': 'application/json', 'content-encoding': 'IDENTITY' }],
  ])(
    'a stream with a 4,000-word prompt and %s counts the provider-reported tokens (was 38, by estimate)',
    async (_name, headers) => {
      const sub = `u-prompt-${n++}`;
      const res = await rawRequest(gw.url, PATH, { ...auth(sub), ...headers }, STREAM);
      expect(res.status).toBe(200);
      expect(JSON.parse(upstream.last().body).stream_options).toEqual({ include_usage: true });
      const u = upstream.reported[upstream.reported.length - 1]!;
      await gw.gateway.idle();
      const c = await dayCounters(gw.gateway, { userId: sub, plan: 'free' });
      expect(c.tokens).toBe(u.input + u.cacheRead + u.output);
      expect(c.tokens).toBeGreaterThan(4000);
    },
  );

  it('refuses text/plain with 415 (was forwarded unmetered)', async () => {
    const before = upstream.received.length;
    const res = await rawRequest(gw.url, PATH, { ...auth('u-text'), 'content-type': 'text/plain' }, STREAM);
    expect(res.status).toBe(415);
    expect(upstream.received.length).toBe(before);
  });

  it('refuses a gzip bomb with 413 (was forwarded unread)', async () => {
    const before = upstream.received.length;
    const res = await rawRequest(
      gw.url,
      PATH,
      { ...auth('u-bomb'), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      gzipSync(Buffer.alloc(32 * 1024 * 1024, 0x20)),
    );
    expect(res.status).toBe(413);
    expect(upstream.received.length).toBe(before);
  });

  it('refuses a 5 MiB body of [] entries with 413 (the default limit was 20 MiB)', async () => {
    const body = `{"model":"gpt-4o","x":[${Array(5 * 1024 * 512)
      .fill('[]')
      .join(',')}]}`;
    const res = await rawRequest(
      gw.url,
      PATH,
      { ...auth('u-arrays'), 'content-type': 'application/json' },
      body,
    );
    expect(res.status).toBe(413);
  });

  it('asks the upstream for identity when the client asks for zstd, and counts the tokens (was sent upstream as is)', async () => {
    const res = await rawRequest(
      gw.url,
      PATH,
      { ...auth('u-zstd'), 'content-type': 'application/json', 'accept-encoding': 'zstd' },
      JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    );
    expect(res.status).toBe(200);
    expect(upstream.last().headers['accept-encoding']).toBe('identity');
    const u = upstream.reported[upstream.reported.length - 1]!;
    await gw.gateway.idle();
    expect((await dayCounters(gw.gateway, { userId: 'u-zstd', plan: 'free' })).tokens).toBe(
      u.input + u.cacheRead + u.output,
    );
  });

  it('answers max_tokens x n above 2^53 with 400 naming the field (was a 500 with a stack)', async () => {
    const body = { model: 'gpt-4o', max_tokens: 2 ** 52, n: 3, messages: [] };
    const res = await rawRequest(
      gw.url,
      PATH,
      { ...auth('u-n'), 'content-type': 'application/json' },
      JSON.stringify(body),
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ status: 400, field: 'max_tokens' });
  });

  it('answers a 200,000-character model with 400 naming it (was stored in the ledger)', async () => {
    const before = upstream.received.length;
    const body = { model: 'm'.repeat(200_000), messages: [] };
    const res = await rawRequest(
      gw.url,
      PATH,
      { ...auth('u-model'), 'content-type': 'application/json' },
      JSON.stringify(body),
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ field: 'model' });
    expect(upstream.received.length).toBe(before);
  });

  it('ends a body that stops coming with 408 problem+json and a closed connection (was held for minutes)', async () => {
    const head =
      `POST ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth('u-slow').authorization}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${STREAM.length}\r\n\r\n`;
    const answer = await stalledBody(gw.url, head, Buffer.from(STREAM.slice(0, 50)));
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer.toLowerCase()).toContain('application/problem+json');
  });
});
