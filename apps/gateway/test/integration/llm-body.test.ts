// LLM request bodies in every form a client may send: read and metered exactly as the upstream reads them, or refused.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { LlmUpstream, type Received } from '../support/llm-upstream';
import { METERED_CONFIG, dayCounters, startGateway, token, type RunningGateway } from '../support/kit';
import { rawRequest, stalledBody } from '../support/raw-http';

const PATH = '/api/v1/chat/completions';
/** A streaming chat call with a 4,000-word prompt: ceil(15,599 chars / 4) + 12 = 3,912 tokens reserved. */
const PROMPT = Array.from({ length: 4000 }, (_, i) => `w${i % 100}`).join(' ');
const chat = (model: string) => ({
  model,
  stream: true,
  max_tokens: 12,
  messages: [{ role: 'user', content: PROMPT }],
});

function utf16be(text: string): Buffer {
  const le = Buffer.from(text, 'utf16le');
  for (let i = 0; i + 1 < le.length; i += 2) [le[i], le[i + 1]] = [le[i + 1]!, le[i]!];
  return le;
}

const nonZero = (c: Record<string, number>) =>
  Object.fromEntries(Object.entries(c).filter(([, v]) => v !== 0));

/** One way of sending the same JSON: its headers and bytes. */
interface Variant {
  headers: Record<string, string>;
  encode(json: string): Buffer;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const utf8 = (json: string) => Buffer.from(json);
const READABLE: Record<string, Variant> = {
  'Content-Encoding: IDENTITY': {
    headers: { 'content-type': 'application/json', 'content-encoding': ' IDENTITY ' },
    encode: utf8,
  },
  'a UTF-8 BOM': {
    headers: { 'content-type': 'application/json' },
    encode: (j) => Buffer.concat([BOM, Buffer.from(j)]),
  },
  'charset=utf-16le': {
    headers: { 'content-type': 'application/json; charset=UTF-16LE' },
    encode: (j) => Buffer.from(j, 'utf16le'),
  },
  'charset="utf-16be"': {
    headers: { 'content-type': 'application/json; charset="utf-16be"' },
    encode: utf16be,
  },
  'UTF-16LE with a BOM and no charset': {
    headers: { 'content-type': 'application/json' },
    encode: (j) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(j, 'utf16le')]),
  },
  'no Content-Type': { headers: {}, encode: utf8 },
  'no Content-Type, UTF-16BE': { headers: {}, encode: utf16be },
  'Connection: content-type': {
    headers: { 'content-type': 'application/json', connection: 'content-type' },
    encode: utf8,
  },
  'chunked, gzip': {
    headers: {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'transfer-encoding': 'chunked',
    },
    encode: (j) => gzipSync(j),
  },
  'Content-Encoding: gzip': {
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    encode: (j) => gzipSync(j),
  },
  'Content-Encoding: x-gzip': {
    headers: { 'content-type': 'application/json', 'content-encoding': 'x-gzip' },
    encode: (j) => gzipSync(j),
  },
  'Content-Encoding: deflate (zlib)': {
    headers: { 'content-type': 'application/json', 'content-encoding': 'deflate' },
    encode: (j) => deflateSync(j),
  },
  'Content-Encoding: deflate (raw)': {
    headers: { 'content-type': 'application/json', 'content-encoding': 'Deflate' },
    encode: (j) => deflateRawSync(j),
  },
  'Content-Encoding: br': {
    headers: { 'content-type': 'application/json', 'content-encoding': 'br' },
    encode: (j) => brotliCompressSync(j),
  },
  'Content-Encoding: gzip, br': {
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip, br' },
    encode: (j) => brotliCompressSync(gzipSync(j)),
  },
  'Connection: content-encoding, gzip': {
    headers: {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      connection: 'content-encoding',
    },
    encode: (j) => gzipSync(j),
  },
};

describe('LLM request bodies the gateway reads (encodings, charsets, no Content-Type)', () => {
  let upstream: LlmUpstream;
  let gw: RunningGateway;
  let slow: RunningGateway;
  /** The slow gateway's upstream: takes any body, survives one cut off half-way. */
  let sink: http.Server;
  let db: { url: string; drop: () => Promise<void> };
  let user = 0;

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_llm_body');
    const env = {
      UPSTREAM_URL: upstream.url,
      STRIP_PREFIX: '/api',
      REDIS_URL,
      DATABASE_URL: db.url,
      FLUSHER: 'inline',
      FLUSH_INTERVAL_MS: '600000',
    };
    const config = {
      ...METERED_CONFIG,
      unpricedModel: 'block' as const,
      // Less than the 3,912 tokens the 4,000-word prompt reserves, more than a body read as empty would (12).
      plans: { ...METERED_CONFIG.plans, budget: { limits: { tokens: { day: 3000 } } } },
    };
    gw = await startGateway({ ...env, REDIS_PREFIX: uniquePrefix('gw-llm-body') }, { config });
    sink = http.createServer((req, res) => {
      req.on('error', () => undefined);
      req.resume().on('end', () => res.end('ok'));
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
    slow = await startGateway(
      {
        ...env,
        UPSTREAM_URL: `http://127.0.0.1:${(sink.address() as AddressInfo).port}`,
        REDIS_PREFIX: uniquePrefix('gw-llm-body-slow'),
        HEADERS_TIMEOUT_MS: '500',
        REQUEST_TIMEOUT_MS: '1000',
      },
      { config },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await slow?.close();
    sink?.closeAllConnections();
    await new Promise((r) => sink?.close(r));
    await upstream?.stop();
    await db?.drop();
  });

  const auth = (sub: string, tier = 'free') => ({ authorization: `Bearer ${token({ sub, tier })}` });

  /** Sends `body` as `v` describes; returns the response and what the upstream received (null: nothing). */
  async function send(v: Variant, body: unknown, sub: string, tier = 'free', target = gw) {
    const before = upstream.received.length;
    const res = await rawRequest(
      target.url,
      PATH,
      { ...auth(sub, tier), ...v.headers },
      v.encode(JSON.stringify(body)),
    );
    const got: Received | null = upstream.received.length > before ? upstream.last() : null;
    return { res, got };
  }

  describe.each(Object.entries(READABLE))('%s', (_name, v) => {
    it('is metered as read: include_usage injected, the upstream gets the UTF-8 JSON, the reported usage counted', async () => {
      const sub = `u-read-${user++}`;
      const { res, got } = await send(v, chat('gpt-4o'), sub);
      expect(res.status).toBe(200);
      expect(res.text).toContain('data: [DONE]');
      expect(got).not.toBeNull();
      const sent = Buffer.from(got!.body, 'utf8');
      expect(JSON.parse(got!.body)).toEqual({ ...chat('gpt-4o'), stream_options: { include_usage: true } });
      expect(got!.headers['content-type']).toMatch(/^application\/json/);
      expect(got!.headers['content-encoding']).toBeUndefined();
      expect(got!.headers['transfer-encoding']).toBeUndefined();
      expect(got!.headers['content-length']).toBe(String(sent.length));
      const u = upstream.reported[upstream.reported.length - 1]!;
      await gw.gateway.idle();
      const c = await dayCounters(gw.gateway, { userId: sub, plan: 'free' });
      // The provider's count, not the estimate: the usage chunk include_usage asked for was read.
      expect(c).toMatchObject({
        requests: 1,
        input_tokens: u.input,
        cache_read_tokens: u.cacheRead,
        output_tokens: u.output,
        tokens: u.input + u.cacheRead + u.output,
      });
    });

    it('reserves the prompt it read: over a 3,000-token budget it is refused 429 before the upstream', async () => {
      const { res, got } = await send(v, chat('gpt-4o'), `u-budget-${user++}`, 'budget');
      expect(res.status).toBe(429);
      expect(JSON.parse(res.text)).toMatchObject({ meter: 'tokens', limit: 3000 });
      expect(got).toBeNull();
    });

    it('blocks an unpriced model under unpricedModel: block (403, never forwarded)', async () => {
      const { res, got } = await send(v, chat('mystery-model'), `u-block-${user++}`);
      expect(res.status).toBe(403);
      expect(JSON.parse(res.text)).toMatchObject({ title: 'Model not priced', model: 'mystery-model' });
      expect(got).toBeNull();
    });
  });

  it('forwards plain UTF-8 JSON byte for byte, with the client Content-Type', async () => {
    const json = '{ "model" : "gpt-4o",\n "messages": [{"role":"user","content":"caf\u00e9"}] }';
    const before = upstream.received.length;
    const r = await rawRequest(
      gw.url,
      PATH,
      { ...auth(`u-bytes-${user++}`), 'content-type': 'application/json; charset=utf-8' },
      json,
    );
    expect(r.status).toBe(200);
    expect(upstream.received.length).toBe(before + 1);
    expect(upstream.last().body).toBe(json);
    expect(upstream.last().headers['content-type']).toBe('application/json; charset=utf-8');
  });

  const refusals: Array<[string, number, Record<string, string>, Buffer | string]> = [
    ['text/plain', 415, { 'content-type': 'text/plain' }, JSON.stringify(chat('gpt-4o'))],
    [
      'application/x-www-form-urlencoded',
      415,
      { 'content-type': 'application/x-www-form-urlencoded' },
      'a=1',
    ],
    ['charset=iso-8859-1', 415, { 'content-type': 'application/json; charset=iso-8859-1' }, '{}'],
    [
      'charset=utf-16 without a BOM',
      415,
      { 'content-type': 'application/json; charset=utf-16' },
      Buffer.from('{}', 'utf16le'),
    ],
    ['Content-Encoding: zstd', 415, { 'content-type': 'application/json', 'content-encoding': 'zstd' }, '{}'],
    [
      'Content-Encoding: compress',
      415,
      { 'content-type': 'application/json', 'content-encoding': 'compress' },
      '{}',
    ],
    [
      'Content-Encoding: gzip, gzip, gzip',
      415,
      { 'content-encoding': 'gzip, gzip, gzip' },
      gzipSync(gzipSync(gzipSync('{}'))),
    ],
    [
      'a body that is not the gzip it says',
      400,
      { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      '{"model":"gpt-4o"}',
    ],
    ['malformed JSON', 400, { 'content-type': 'application/json' }, '{"model":"gpt-4o",'],
    ['a JSON array', 400, { 'content-type': 'application/json' }, '[{"model":"gpt-4o"}]'],
    ['no Content-Type and not JSON', 400, {}, 'model=gpt-4o'],
    [
      'invalid UTF-8',
      400,
      { 'content-type': 'application/json' },
      Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]),
    ],
    [
      'a UTF-16LE BOM under charset=utf-8',
      400,
      { 'content-type': 'application/json; charset=utf-8' },
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{}', 'utf16le')]),
    ],
    [
      'model given twice',
      400,
      { 'content-type': 'application/json' },
      '{"model":"gpt-4o","messages":[],"model":"mystery-model"}',
    ],
    [
      'JSON nested 200 deep',
      400,
      { 'content-type': 'application/json' },
      `{"model":"gpt-4o","x":${'['.repeat(200)}${']'.repeat(200)}}`,
    ],
    ['a Content-Type list', 415, { 'content-type': 'application/json, text/plain' }, '{}'],
  ];

  it.each(refusals)(
    'refuses %s with %d problem+json, forwarding and counting nothing',
    async (_n, status, headers, body) => {
      const sub = `u-refused-${user++}`;
      const before = upstream.received.length;
      const res = await rawRequest(gw.url, PATH, { ...auth(sub), ...headers }, body);
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(JSON.parse(res.text)).toMatchObject({ status });
      expect(upstream.received.length).toBe(before);
      await gw.gateway.idle();
      expect(nonZero(await dayCounters(gw.gateway, { userId: sub, plan: 'free' }))).toEqual({});
    },
  );

  it('refuses a gzip bomb with 413 (64 MiB of zeros in 64 KB) without forwarding it', async () => {
    const before = upstream.received.length;
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    const res = await rawRequest(
      gw.url,
      PATH,
      { ...auth(`u-bomb-${user++}`), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      bomb,
    );
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.headers.connection).toBe('close');
    expect(upstream.received.length).toBe(before);
  });

  it('refuses a body over MAX_BODY_BYTES (default 4 MiB) with 413', async () => {
    const big = JSON.stringify({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'x'.repeat(4 * 1024 * 1024) }],
    });
    const res = await rawRequest(
      gw.url,
      PATH,
      { ...auth(`u-big-${user++}`), 'content-type': 'application/json' },
      big,
    );
    expect(res.status).toBe(413);
  });

  it.each([
    ['200,000 empty arrays', `{"model":"gpt-4o","x":[${Array(200_000).fill('[]').join(',')}]}`],
    ['1,500,000 numbers', `{"model":"gpt-4o","x":[${Array(1_500_000).fill('0').join(',')}]}`],
  ])('refuses a body of %s with 413 before parsing it', async (_n, body) => {
    const before = upstream.received.length;
    const res = await rawRequest(
      gw.url,
      PATH,
      { ...auth(`u-many-${user++}`), 'content-type': 'application/json' },
      body,
    );
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text)).toMatchObject({ status: 413, title: 'Payload Too Large' });
    expect(upstream.received.length).toBe(before);
  });

  it.each([
    ['max_tokens x n over 2^53', { max_tokens: 2 ** 52, n: 4 }, 'max_tokens'],
    ['max_completion_tokens of 1e300', { max_completion_tokens: 1e300 }, 'max_completion_tokens'],
    ['max_tokens of 1.5', { max_tokens: 1.5 }, 'max_tokens'],
    ['a negative n', { max_tokens: 10, n: -1 }, 'n'],
    ['max_output_tokens over a billion', { max_output_tokens: 1_000_000_001 }, 'max_output_tokens'],
    ['a 257-character model', { model: 'g'.repeat(257) }, 'model'],
    ['a 200,000-character model', { model: 'g'.repeat(200_000) }, 'model'],
    ['a model with a newline', { model: 'gpt-4o\nx' }, 'model'],
    ['a model that is a number', { model: 4 }, 'model'],
  ])('refuses %s with 400 naming the field, reserving nothing', async (_n, fields, field) => {
    const sub = `u-field-${user++}`;
    const before = upstream.received.length;
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], ...fields };
    const res = await rawRequest(
      gw.url,
      PATH,
      { ...auth(sub), 'content-type': 'application/json' },
      JSON.stringify(body),
    );
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(res.text)).toMatchObject({ status: 400, title: 'Bad Request', field });
    expect(upstream.received.length).toBe(before);
    await gw.gateway.idle();
    expect(nonZero(await dayCounters(gw.gateway, { userId: sub, plan: 'free' }))).toEqual({});
  });

  it('accepts a 256-character printable model (then blocks it as unpriced)', async () => {
    const body = { model: 'é'.repeat(256), messages: [] };
    const res = await rawRequest(
      gw.url,
      PATH,
      { ...auth(`u-256-${user++}`), 'content-type': 'application/json' },
      JSON.stringify(body),
    );
    expect(res.status).toBe(403);
  });

  it('ends a body that stops coming with 408 problem+json and closes the connection', async () => {
    const before = upstream.received.length;
    const body = Buffer.from(JSON.stringify(chat('gpt-4o')));
    const head =
      `POST ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth(`u-slow-${user++}`).authorization}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    // The connection closing is what resolves this: a gateway that waited forever would time the test out.
    const answer = await stalledBody(slow.url, head, body.subarray(0, 100));
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer.toLowerCase()).toContain('content-type: application/problem+json');
    expect(answer).toContain('"status":408');
    expect(upstream.received.length).toBe(before);
  });

  it('ends any proxied body that stops coming (REQUEST_TIMEOUT_MS) with 408 problem+json, counted as request_timeout', async () => {
    const head =
      `POST /api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth(`u-upload-${user++}`).authorization}\r\n` +
      `Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n`;
    const answer = await stalledBody(slow.url, head, Buffer.alloc(10, 0x61));
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('"status":408');
    const metrics = await (await fetch(`${slow.url}/metrics`)).text();
    expect(metrics).toMatch(/tollgate_gateway_requests_total\{outcome="request_timeout"\} [1-9]/);
  });

  it('ends headers that stop coming with 408 problem+json and closes the connection', async () => {
    const answer = await stalledBody(
      slow.url,
      `POST ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n`,
      Buffer.from('X-A: 1\r\n'),
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('"status":408');
  });

  it.each([
    ['zstd', 'identity'],
    ['gzip;q=0.5, zstd, br;q=0.8, *', 'gzip;q=0.5, br;q=0.8'],
    ['', 'identity'],
  ])(
    'asks the upstream only for encodings it can decode (client %j, upstream gets %j), tokens counted',
    async (ae, expected) => {
      const sub = `u-ae-${user++}`;
      const headers: Record<string, string> = { ...auth(sub), 'content-type': 'application/json' };
      if (ae) headers['accept-encoding'] = ae;
      const body = { model: 'gpt-4o', messages: [{ role: 'user', content: 'encode me' }] };
      const res = await rawRequest(gw.url, PATH, headers, JSON.stringify(body));
      expect(res.status).toBe(200);
      expect(upstream.last().headers['accept-encoding']).toBe(expected);
      const u = upstream.reported[upstream.reported.length - 1]!;
      await gw.gateway.idle();
      const c = await dayCounters(gw.gateway, { userId: sub, plan: 'free' });
      expect(c.tokens).toBe(u.input + u.cacheRead + u.output);
    },
  );
});
