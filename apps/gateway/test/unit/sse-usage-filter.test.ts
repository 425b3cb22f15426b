import { Readable } from 'node:stream';
import { SseUsageFilter, rewriteEvent } from '../../src/sse-usage-filter';

async function filtered(parts: string[]): Promise<string> {
  const out: Buffer[] = [];
  const filter = Readable.from(parts.map((p) => Buffer.from(p))).pipe(new SseUsageFilter());
  for await (const c of filter) out.push(c as Buffer);
  return Buffer.concat(out).toString('utf8');
}

const chunk = (extra: string) =>
  `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hé"}}]${extra}}\n\n`;
const usageChunk =
  'data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}\n\n';

describe('SseUsageFilter', () => {
  it('drops the usage-only chunk and the usage:null members, keeping everything else byte for byte', async () => {
    const text = chunk(',"usage":null') + chunk('') + usageChunk + 'data: [DONE]\n\n';
    expect(await filtered([text])).toBe(chunk('') + chunk('') + 'data: [DONE]\n\n');
  });

  it('works across any chunk boundary, multi-byte characters included', async () => {
    const text = chunk(',"usage":null') + ': comment\n\n' + usageChunk + 'data: [DONE]\n\n';
    const bytes = Buffer.from(text);
    for (const size of [1, 2, 5, 17]) {
      // Split bytes (not characters) so a UTF-8 sequence can be cut in two.
      const out: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
      const filter = Readable.from(out).pipe(new SseUsageFilter());
      const got: Buffer[] = [];
      for await (const c of filter) got.push(c as Buffer);
      expect(Buffer.concat(got).toString('utf8')).toBe(chunk('') + ': comment\n\n' + 'data: [DONE]\n\n');
    }
  });

  it('passes events it does not understand unchanged', () => {
    expect(rewriteEvent('event: ping\ndata: {}\n\n', '\n\n')).toBe('event: ping\ndata: {}\n\n');
    expect(rewriteEvent('data: not json\n\n', '\n\n')).toBe('data: not json\n\n');
    expect(rewriteEvent('data: {"choices":[{}]}\r\n\r\n', '\r\n\r\n')).toBe('data: {"choices":[{}]}\r\n\r\n');
  });

  it('emits each event as soon as it is complete', async () => {
    const filter = new SseUsageFilter();
    const seen: string[] = [];
    filter.on('data', (c: Buffer) => seen.push(c.toString()));
    filter.write(Buffer.from(chunk('').slice(0, 20)));
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([]);
    filter.write(Buffer.from(chunk('').slice(20)));
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([chunk('')]);
  });
});
