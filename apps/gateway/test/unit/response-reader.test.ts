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
      recognised: true,
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
    expect(u.recognised).toBe(true);
    expect(u.complete).toBe(false);
    expect(u.outputChars).toBeGreaterThan(0);
  });

  it('does not take an unrelated or malformed JSON body for an LLM answer', async () => {
    expect((await read(Buffer.from('{"ok":true}'), 'application/json')).recognised).toBe(false);
    expect((await read(Buffer.from('{"choices":'), 'application/json')).recognised).toBe(false);
    expect((await read(Buffer.from(json), 'text/html')).recognised).toBe(false);
    expect((await read(Buffer.from(json), 'application/json', 'zstd')).recognised).toBe(false);
  });
});
