// Found by the SSE rewriter's property test in a CI run of session 20 (seed -487707262): an empty chunk between the \r
// and the \n of a \r\n line end cleared the "a \n may follow" state, so the \n opening the next chunk read as a blank
// line: the event ended there. An event over the cap was then cut in two, and its second half (within the cap)
// rewritten; the usage reader's parser split a multi-line event likewise. An empty chunk now changes nothing.
import { BoundedSseParser, type ParsedEvent } from '../../src/sse-parser';
import { SseUsageRewriter } from '../../src/sse-usage-filter';

const stream = Buffer.from('data: usageevent: xevent: x\r\ndata: {"choices":[],"usage":null}\n\n');
/** The stream fed in chunks cut at `cuts` (empty ones included), then the rest. */
function chunks(cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const size of cuts) {
    out.push(stream.subarray(at, at + size));
    at += size;
  }
  out.push(stream.subarray(at));
  return out;
}

describe('an empty chunk between the \\r and the \\n of a line end', () => {
  it('the rewriter passes the 64-byte event over its 60-byte cap as it came, whole', () => {
    for (const cuts of [[], [28], [7, 6, 7, 8, 0], [28, 0, 0]]) {
      const r = new SseUsageRewriter({ maxEventBytes: 60 });
      const got: Buffer[] = [];
      for (const c of chunks(cuts)) {
        const out = r.feed(c);
        if (out !== null) got.push(out);
      }
      const last = r.finish();
      if (last !== null) got.push(last);
      expect(Buffer.concat(got).toString('latin1')).toBe(stream.toString('latin1'));
    }
  });

  it('the parser reads one event of two data lines', () => {
    for (const cuts of [[], [28], [28, 0]]) {
      const events: ParsedEvent[] = [];
      const p = new BoundedSseParser({
        maxEventBytes: 1 << 20,
        onEvent: (e) => events.push(e),
        onSkipped: () => {},
      });
      for (const c of chunks(cuts)) p.feed(c);
      expect(events.map((e) => e.data)).toEqual(['usageevent: xevent: x\n{"choices":[],"usage":null}']);
    }
  });
});
