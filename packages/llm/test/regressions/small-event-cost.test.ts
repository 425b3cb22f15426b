// Found by a review helper: an event stream of many small events cost the gateway ~1 µs of CPU per byte (4 MiB of
// blank lines: 5.5 s; of bare \r line ends: 5.3 s; 8 KB of gzip holding `data: x` events: 0.9 s), on its one thread.
// Each cause is checked here by the work it does, not by time:
// - LineEnds searched for the next \n again from every line's start (quadratic in a chunk of \r line ends);
// - SseUsageRewriter decoded every event to a string (and joined it) to look for `usage`;
// - StreamUsageReader ran JSON.parse, and threw and caught a SyntaxError, for every event that was not JSON.
import { LineEnds } from '../../src/sse-lines';
import { SseUsageRewriter } from '../../src/sse-usage-filter';
import { StreamUsageReader } from '../../src/stream';

/** Counts the searches for `byte` made on `chunk` (its own indexOf, wrapped). */
function countSearches(chunk: Buffer, byte: number): () => number {
  let n = 0;
  const indexOf = chunk.indexOf.bind(chunk);
  chunk.indexOf = ((value: number, from?: number) => {
    if (value === byte) n++;
    return indexOf(value, from);
  }) as Buffer['indexOf'];
  return () => n;
}

describe('many small events', () => {
  it('LineEnds searches a chunk of 10,000 \\r line ends for \\n once', () => {
    const chunk = Buffer.alloc(10_000, '\r');
    const searches = countSearches(chunk, 0x0a);
    let lines = 0;
    new LineEnds().scan(chunk, () => lines++);
    expect(lines).toBe(10_000);
    expect(searches()).toBe(1);
  });

  it('SseUsageRewriter passes 10,000 blank lines and content deltas on without decoding one', () => {
    const delta = 'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n';
    const chunk = Buffer.from(`${delta.repeat(100)}${'\n'.repeat(10_000)}`);
    const toString = jest.spyOn(Buffer.prototype, 'toString');
    try {
      const out = new SseUsageRewriter().feed(chunk);
      expect(out?.equals(chunk)).toBe(true);
      expect(toString).not.toHaveBeenCalled();
    } finally {
      toString.mockRestore();
    }
  });

  it('StreamUsageReader skips data that is not a JSON object without parsing it', () => {
    const reader = new StreamUsageReader();
    const parse = jest.spyOn(JSON, 'parse');
    try {
      for (let i = 0; i < 1000; i++) reader.push({ data: 'x' });
      reader.push({ data: ' [1, 2]' });
      expect(parse).not.toHaveBeenCalled();
      expect(reader.skipped).toBe(1001);
      reader.push({ data: ' {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}' });
      expect(parse).toHaveBeenCalledTimes(1);
      expect(reader.reported?.inputTokens).toBe(3);
    } finally {
      parse.mockRestore();
    }
  });
});
