import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { ResponseReader } from '../../src/response-reader';

const json = JSON.stringify({
  object: 'chat.completion',
  model: 'gpt-4o-2024-08-06',
  choices: [{ message: { content: 'héllo' } }],
  usage: { prompt_tokens: 30, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 10 } },
});

/** Feeds `bytes` in small chunks, as a socket would, and waits for the result. */
async function read(bytes: Buffer, contentType: string, contentEncoding?: string, cutAt?: number) {
  const reader = new ResponseReader({ contentType, contentEncoding, maxJsonBytes: 1 << 20 });
  const end = cutAt ?? bytes.length;
  for (let i = 0; i < end; i += 7) reader.write(bytes.subarray(i, Math.min(i + 7, end)));
  reader.end();
  return reader.result;
}

describe('ResponseReader', () => {
  it.each([
    ['identity', (b: Buffer) => b],
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ])('reads usage from a %s-encoded JSON body', async (encoding, encode) => {
    const u = await read(encode(Buffer.from(json)), 'application/json; charset=utf-8', encoding);
    expect(u).toMatchObject({
      complete: true,
      model: 'gpt-4o-2024-08-06',
      reported: { provider: 'openai', inputTokens: 20, cacheReadTokens: 10, outputTokens: 5 },
      outputChars: 5,
    });
  });

  it('counts what a cut gzip stream held before the cut', async () => {
    const events = Array.from(
      { length: 40 },
      (_, i) => `data: {"choices":[{"delta":{"content":"w${i}"}}]}\n\n`,
    ).join('');
    const zipped = gzipSync(Buffer.from(events));
    const u = await read(zipped, 'text/event-stream', 'gzip', Math.floor(zipped.length * 0.9));
    expect(u.complete).toBe(false);
    expect(u.outputChars).toBeGreaterThan(0);
  });

  it('estimates an unrelated JSON body or a non-JSON one from its characters, as a served call', async () => {
    const estimated = { reported: null, complete: false, model: null, provider: null };
    expect(await read(Buffer.from('{"ok":true}'), 'application/json')).toMatchObject({
      ...estimated,
      outputChars: 11,
    });
    expect(await read(Buffer.from(json), 'text/html')).toMatchObject({
      ...estimated,
      outputChars: Buffer.byteLength(json),
    });
    expect(await read(Buffer.from('data: {"x":1}\n\n'), 'text/event-stream')).toMatchObject({
      ...estimated,
      outputChars: 7,
    });
  });

  it('estimates a JSON answer it cannot read from the characters it saw', async () => {
    const unread = { reported: null, complete: false };
    expect(await read(Buffer.from('{"choices":'), 'application/json')).toMatchObject({
      ...unread,
      outputChars: 11,
    });
    // An encoding the reader cannot decode: only its bytes on the wire are known.
    expect(await read(Buffer.from(json), 'application/json', 'zstd')).toMatchObject({
      ...unread,
      outputChars: Buffer.byteLength(json),
    });
  });
});

describe('ResponseReader bounds', () => {
  const sse = (data: string) => `data: ${data}\n\n`;
  const usageEvent = sse('{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}');

  function reader(
    maxJsonBytes: number,
    encoding?: string,
    maxStreamBytes?: number,
    type = 'text/event-stream',
  ) {
    const limits: string[] = [];
    const r = new ResponseReader({
      contentType: type,
      contentEncoding: encoding,
      maxJsonBytes,
      maxStreamBytes,
      onLimit: (reason) => limits.push(reason),
    });
    return { r, limits };
  }

  it('skips an event over the cap (its bytes are no text read) and reads the events after it', async () => {
    const { r, limits } = reader(1024);
    r.write(Buffer.from(sse('{"choices":[{"delta":{"content":"hi"}}]}')));
    const big = `data: ${'x'.repeat(10_000)}\n\n`;
    for (let i = 0; i < big.length; i += 333) r.write(Buffer.from(big.slice(i, i + 333)));
    r.write(Buffer.from(usageEvent));
    r.end();
    expect(await r.result).toMatchObject({
      complete: true,
      reported: { inputTokens: 7, outputTokens: 3 },
      outputChars: 2,
    });
    expect(limits).toHaveLength(1);
  });

  it('stops inflating a compressed stream past its decoded cap, and settles what it read as incomplete', async () => {
    const bomb = gzipSync(Buffer.concat([Buffer.from('data: '), Buffer.alloc(8 * 1024 * 1024, 'a')]));
    const { r, limits } = reader(1024, 'gzip', 1024 * 1024);
    for (let i = 0; i < bomb.length; i += 1000) r.write(bomb.subarray(i, i + 1000));
    const u = await r.result;
    r.end();
    expect(u).toMatchObject({ complete: false, reported: null });
    expect(u.outputChars).toBeLessThanOrEqual(1024 * 1024);
    expect(limits).toHaveLength(1);
  });

  it('reads a JSON body over its cap no further and estimates it from the characters it held', async () => {
    const { r, limits } = reader(100, undefined, undefined, 'application/json');
    r.write(Buffer.from(`{"choices":[{"message":{"content":"${'é'.repeat(200)}"}}]}`));
    r.end();
    expect(await r.result).toMatchObject({ reported: null, complete: false });
    expect((await r.result).outputChars).toBeLessThanOrEqual(100);
    expect(limits).toHaveLength(1);
  });

  it.each([
    ['garbage after the gzip member', Buffer.concat([gzipSync(Buffer.from(json)), Buffer.from('garbage!')])],
    ['a truncated gzip body', gzipSync(Buffer.from(json)).subarray(0, 40)],
  ])('survives %s', async (_name, body) => {
    const { r } = reader(1 << 20, 'gzip', undefined, 'application/json');
    r.write(body);
    r.end();
  });

  it('survives brotli garbage and settles it as an estimate', async () => {
    const { r, limits } = reader(1 << 20, 'br', undefined, 'application/json');
    r.write(Buffer.from('this is not brotli at all, not even close'));
    r.end();
    expect(await r.result).toMatchObject({ reported: null });
    expect(limits).toHaveLength(1);
  });

  it('takes absurd usage numbers as not reported, and a model name that is no name as none', async () => {
    const body = (usage: unknown, model: unknown = 'gpt-4o') =>
      Buffer.from(JSON.stringify({ model, choices: [{ message: { content: 'abcd' } }], usage }));
    const get = async (b: Buffer) => {
      const { r } = reader(1 << 20, undefined, undefined, 'application/json');
      r.write(b);
      r.end();
      return r.result;
    };
    for (const bad of [1e300, -5, '12', 2 ** 60, 1.5, null, 2 ** 53 - 1])
      expect((await get(body({ prompt_tokens: bad, completion_tokens: 1 }))).reported).toBeNull();
    expect((await get(body({ prompt_tokens: 9, completion_tokens: 1e300 }))).reported).toMatchObject({
      inputTokens: 9,
      outputTokens: null,
    });
    expect((await get(body({ prompt_tokens: 9 }, 'm'.repeat(257)))).model).toBeNull();
    expect((await get(body({ prompt_tokens: 9 }, 'gpt-4o\n'))).model).toBeNull();
    expect((await get(body({ prompt_tokens: 9 }, 'm'.repeat(256)))).model).toBe('m'.repeat(256));
  });
});

describe('ResponseReader, an answer that would build too many arrays and objects', () => {
  it('is not parsed: its usage is estimated from its text, as for one that is not JSON', async () => {
    const n = 1_000_001;
    const text = `{"choices":[],"usage":{"prompt_tokens":3},"x":${'['.repeat(n)}${']'.repeat(n)}}`;
    const parse = jest.spyOn(JSON, 'parse');
    try {
      const reader = new ResponseReader({ contentType: 'application/json', maxJsonBytes: 1 << 23 });
      reader.write(Buffer.from(text));
      reader.end();
      const u = await reader.result;
      expect(parse).not.toHaveBeenCalled();
      expect(u).toMatchObject({ reported: null, outputChars: text.length });
    } finally {
      parse.mockRestore();
    }
  });
});
