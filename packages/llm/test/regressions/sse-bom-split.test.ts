// Found by the review of session 20's SSE fix: the parser stripped a UTF-8 BOM only when the stream's first chunk held
// all three of its bytes. Split over one- or two-byte chunks, the BOM stayed in front of the first field name, so
// "\uFEFFdata" was no field and the first event (Anthropic's message_start, which carries the input tokens) was lost.
import { BoundedSseParser, type ParsedEvent } from '../../src/sse-parser';

const BOM = [0xef, 0xbb, 0xbf];
const EVENTS = 'data: {"type":"message_start"}\n\ndata: {"type":"message_stop"}\n\n';

function parse(chunks: Array<number[] | string>): string[] {
  const events: ParsedEvent[] = [];
  const p = new BoundedSseParser({
    maxEventBytes: 1 << 20,
    onEvent: (e) => events.push(e),
    onSkipped: () => {},
  });
  for (const c of chunks) p.feed(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c));
  p.end();
  return events.map((e) => e.data);
}

const BOTH = ['{"type":"message_start"}', '{"type":"message_stop"}'];

describe('a BOM at the start of an event stream', () => {
  it('is stripped however the first chunks cut it', () => {
    expect(parse([[...BOM, ...Buffer.from(EVENTS)]])).toEqual(BOTH);
    expect(parse([[0xef], [0xbb, 0xbf], EVENTS])).toEqual(BOTH);
    expect(parse([[0xef, 0xbb], [0xbf], EVENTS])).toEqual(BOTH);
    expect(parse([[0xef], [], [0xbb], [0xbf, ...Buffer.from(EVENTS)]])).toEqual(BOTH);
  });

  it('is stripped once, and bytes that only begin like one are kept', () => {
    expect(parse([[...BOM], [...BOM, ...Buffer.from(EVENTS)]])).toEqual([BOTH[1]]);
    expect(parse([[0xef], [0xbb], 'data: x\n\n'])).toEqual([]);
    expect(parse([[0xef], 'data: x\n\n', EVENTS])).toEqual(BOTH);
    expect(parse([[], EVENTS])).toEqual(BOTH);
  });
});
