import { Readable } from 'node:stream';
import { SseUsageFilter, SseUsageRewriter, rewriteEvent } from '../../src/sse-usage-filter';

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

  it('lets out the events of one chunk in one piece (one socket write for the client)', async () => {
    const filter = new SseUsageFilter();
    const seen: string[] = [];
    filter.on('data', (c: Buffer) => seen.push(c.toString()));
    filter.write(Buffer.from(chunk(',"usage":null') + chunk('') + usageChunk + 'data: [DONE]\n\n'));
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([chunk('') + chunk('') + 'data: [DONE]\n\n']);
  });

  it('reads a usage member whose key is written with \\u escapes, although it skips events without one', () => {
    // "usage" with its u escaped, in a usage-only chunk and as a null member.
    const escapedOnly = 'data: {"choices":[],"\\u0075sage":{"prompt_tokens":3}}\n\n';
    expect(rewriteEvent(escapedOnly, '\n\n')).toBe('');
    const escapedNull = 'data: {"choices":[{"index":0}],"us\\u0061ge":null}\n\n';
    expect(rewriteEvent(escapedNull, '\n\n')).toBe('data: {"choices":[{"index":0}]}\n\n');
    const plain = 'data: {"choices":[{"index":0,"delta":{"content":"use it"}}]}\n\n';
    expect(rewriteEvent(plain, '\n\n')).toBe(plain);
  });

  it('passes an event nested too deep to re-serialize as it came (JSON.stringify would throw)', () => {
    const deep = `data: {"choices":[],"usage":null,"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}\n\n`;
    expect(rewriteEvent(deep, '\n\n')).toBe(deep);
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

describe('SseUsageFilter bounds', () => {
  const MiB = 1024 * 1024;

  it('holds at most its cap of a 16 MiB event without a blank line, passes it byte for byte, and filters on after it', async () => {
    let warnings = 0;
    const filter = new SseUsageFilter({ maxEventBytes: MiB, onOversize: () => warnings++ });
    const got: Buffer[] = [];
    filter.on('data', (c: Buffer) => got.push(c));
    let maxBuffered = 0;
    const piece = Buffer.alloc(64 * 1024, 'a');
    filter.write(Buffer.from('data: '));
    for (let sent = 0; sent < 16 * MiB; sent += piece.length) {
      filter.write(piece);
      maxBuffered = Math.max(maxBuffered, filter.buffered);
    }
    filter.end(Buffer.from('\n\n' + usageChunk + chunk('')));
    await new Promise((r) => filter.on('end', r));
    expect(maxBuffered).toBeLessThanOrEqual(MiB);
    const out = Buffer.concat(got);
    expect(out.length).toBe(6 + 16 * MiB + 2 + Buffer.byteLength(chunk('')));
    expect(out.subarray(0, 6).toString()).toBe('data: ');
    expect(out.subarray(6, 6 + 16 * MiB).every((b) => b === 0x61)).toBe(true);
    // The usage-only chunk after it is still dropped: the filter resynchronised at the blank line.
    expect(out.subarray(6 + 16 * MiB).toString()).toBe('\n\n' + chunk(''));
    expect(warnings).toBe(1);
  });

  it('finds \\r\\n\\r\\n event ends split anywhere, and passes invalid UTF-8 unchanged', async () => {
    const text = Buffer.concat([
      Buffer.from(chunk(',"usage":null').replace(/\n/g, '\r\n')),
      Buffer.from(usageChunk.replace(/\n/g, '\r\n')),
      Buffer.from([0x64, 0x61, 0x74, 0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a]),
    ]);
    const want = Buffer.concat([
      Buffer.from(chunk('').replace(/\n/g, '\r\n')),
      Buffer.from([0x64, 0x61, 0x74, 0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a]),
    ]);
    for (let cut = 1; cut < text.length; cut++) {
      const filter = Readable.from([text.subarray(0, cut), text.subarray(cut)]).pipe(new SseUsageFilter());
      const got: Buffer[] = [];
      for await (const c of filter) got.push(c as Buffer);
      expect(Buffer.concat(got).equals(want)).toBe(true);
    }
  });
});

describe('SseUsageRewriter (the filter without a stream)', () => {
  it('returns what each chunk completes, in one piece, and null while an event is unfinished', () => {
    const r = new SseUsageRewriter();
    const text = chunk(',"usage":null') + chunk('') + usageChunk + 'data: [DONE]\n\n';
    const cut = text.length - 5;
    expect(r.feed(Buffer.from(text.slice(0, cut)))?.toString()).toBe(chunk('') + chunk(''));
    expect(r.buffered).toBe(Buffer.byteLength(text.slice(text.indexOf('data: [DONE]'), cut)));
    expect(r.feed(Buffer.from(text.slice(cut, cut + 1)))).toBeNull();
    expect(r.feed(Buffer.from(text.slice(cut + 1)))?.toString()).toBe('data: [DONE]\n\n');
    expect(r.finish()).toBeNull();
  });

  it('lets out an unended last event as it is at the finish, and one ended on a lone \\r', () => {
    const open = new SseUsageRewriter();
    expect(open.feed(Buffer.from('data: {"choices":[]}\n'))).toBeNull();
    expect(open.finish()?.toString()).toBe('data: {"choices":[]}\n');
    const cr = new SseUsageRewriter();
    expect(cr.feed(Buffer.from(usageChunk.replace(/\n\n$/, '\r\r')))).toBeNull();
    expect(cr.finish()).toBeNull();
  });
});
