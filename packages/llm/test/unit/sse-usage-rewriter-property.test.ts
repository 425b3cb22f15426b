// SseUsageRewriter against a reference that reads the whole stream at once: for any stream of events, blank lines,
// comments and line ends (\n, \r, \r\n), any event cap and any cut into chunks, the client gets exactly what the
// reference gives: each event as rewriteEvent leaves it, an event over the cap and an unended last one as they came.
import fc from 'fast-check';
import { SseUsageRewriter, rewriteEvent } from '../../src/sse-usage-filter';

/** The whole stream's output, event by event (an event ends with the line end of its blank line). */
function reference(stream: Buffer, cap: number): Buffer {
  const out: Buffer[] = [];
  let lineStart = 0;
  let eventStart = 0;
  let contentEnd = -1;
  let i = 0;
  while (i < stream.length) {
    const b = stream[i]!;
    if (b !== 0x0a && b !== 0x0d) {
      i++;
      continue;
    }
    const lineEnd = i;
    i += b === 0x0d && stream[i + 1] === 0x0a ? 2 : 1;
    if (lineEnd > lineStart) contentEnd = lineEnd;
    else {
      const bytes = stream.subarray(eventStart, i);
      const content = contentEnd < 0 ? 0 : contentEnd - eventStart;
      const text = bytes.toString('utf8');
      const rewritten =
        bytes.length > cap ? text : rewriteEvent(text, text.slice(text.length - (bytes.length - content)));
      out.push(rewritten === text ? bytes : Buffer.from(rewritten, 'utf8'));
      eventStart = i;
      contentEnd = -1;
    }
    lineStart = i;
  }
  out.push(stream.subarray(eventStart));
  return Buffer.concat(out);
}

const PIECES = [
  'data: {"choices":[],"usage":null}',
  'data: {"choices":[{"index":0,"delta":{"content":"hé"}}],"usage":null}',
  'data: {"choices":[]}',
  'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}',
  'data: {"us\\u0061ge":null,"choices":[]}',
  'data: usage',
  'data: [DONE]',
  ': comment',
  'event: x',
  'x'.repeat(40),
  '\n',
  '\n',
  '\r',
  '\r\n',
  '\n\n',
];

describe('SseUsageRewriter, any stream cut anywhere', () => {
  it('lets out what the whole-stream reference does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...PIECES), { maxLength: 40 }),
        fc.constantFrom(10, 30, 60, 1 << 20),
        fc.array(fc.integer({ min: 0, max: 8 }), { maxLength: 60 }),
        (pieces, cap, cuts) => {
          const stream = Buffer.from(pieces.join(''));
          const r = new SseUsageRewriter({ maxEventBytes: cap });
          const got: Buffer[] = [];
          let at = 0;
          for (const size of cuts) {
            if (at >= stream.length) break;
            const out = r.feed(stream.subarray(at, at + size));
            if (out !== null) got.push(out);
            at += size;
          }
          if (at < stream.length) {
            const out = r.feed(stream.subarray(at));
            if (out !== null) got.push(out);
          }
          const last = r.finish();
          if (last !== null) got.push(last);
          expect(Buffer.concat(got).toString('latin1')).toBe(reference(stream, cap).toString('latin1'));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
