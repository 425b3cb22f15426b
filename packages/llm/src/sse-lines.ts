// Line ends of a server-sent-event byte stream (\r\n, \n or \r), found in one pass across chunk boundaries.

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits byte chunks into lines without copying: each byte is looked at once (indexOf), so a line
 * of any length costs linear time. A \r\n split across two chunks is one line end.
 */
export class LineEnds {
  private afterCr = false;

  /**
   * Calls `onLine(start, contentEnd, next)` for every line end in `chunk`: this chunk's part of the
   * line is `[start, contentEnd)`, the line end `[contentEnd, next)`. Returns where the unended tail
   * begins (`chunk.length` when the chunk ends on a line end). A chunk starting with the \n of a
   * \r\n begun in the previous chunk gives that \n to no line: `start` of its first line is 1.
   */
  scan(chunk: Buffer, onLine: (start: number, contentEnd: number, next: number) => void): number {
    let start = 0;
    // An empty chunk between the \r and its \n says nothing: the \n may still come first in the next one.
    if (this.afterCr && chunk.length > 0) {
      this.afterCr = false;
      if (chunk[0] === LF) start = 1;
    }
    // The next \r and the next \n are remembered, so a chunk of many lines ended by one of them and none of the other
    // is not searched to its end once per line (quadratic: 64 KiB of \r line ends took 15 ms).
    let cr = -2;
    let lf = -2;
    const n = chunk.length;
    while (start < n) {
      if (cr !== -1 && cr < start) cr = chunk.indexOf(CR, start);
      if (lf !== -1 && lf < start) lf = chunk.indexOf(LF, start);
      const at = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      if (at === -1) break;
      let next = at + 1;
      if (chunk[at] === CR) {
        if (next < n) {
          if (chunk[next] === LF) next++;
        } else {
          this.afterCr = true;
        }
      }
      onLine(start, at, next);
      start = next;
    }
    return start;
  }
}

/** True when the byte before `next` is a \r that may still be followed by the \n of a \r\n. */
export function endsOnCr(chunk: Buffer, next: number): boolean {
  return next === chunk.length && next > 0 && chunk[next - 1] === CR;
}

export { LF };
