// Found by the review of session 20's SSE fix: the parser counted a \r\n line end as two bytes towards its event cap
// when one chunk held it, and as one when chunks split it between the \r and the \n. An event at the cap was read or
// skipped by where the chunks fell. A line end now counts one byte however it is spelt or split.
import { BoundedSseParser, type ParsedEvent } from '../../src/sse-parser';

const EVENT = 'data: {"usage":{"output_tokens":7}}\r\nevent: x\r\n\r\n';
/** Its lines (35 + 8 bytes) and three line ends of one byte each. */
const SIZE = 46;

function read(cap: number, cuts: number[]): { events: string[]; skipped: number[] } {
  const events: ParsedEvent[] = [];
  const skipped: number[] = [];
  const p = new BoundedSseParser({
    maxEventBytes: cap,
    onEvent: (e) => events.push(e),
    onSkipped: (b) => skipped.push(b),
  });
  const bytes = Buffer.from(EVENT);
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    p.feed(bytes.subarray(at, cut));
    at = cut;
  }
  p.end();
  return { events: events.map((e) => e.data), skipped };
}

describe('an event at the cap, its \\r\\n line ends split or not', () => {
  // Every split of a \r\n: after the first, the second, the blank line's \r.
  const splits = [[], [36], [46], [48], [36, 46, 48]];

  it('is read at a cap of its size, wherever the chunks fall', () => {
    for (const cuts of splits)
      expect(read(SIZE, cuts)).toEqual({ events: ['{"usage":{"output_tokens":7}}'], skipped: [] });
  });

  it('is skipped one byte under it, wherever the chunks fall', () => {
    for (const cuts of splits) expect(read(SIZE - 1, cuts)).toEqual({ events: [], skipped: [SIZE] });
  });
});
