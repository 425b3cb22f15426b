// A bounded server-sent-event parser: events of at most `maxEventBytes`, linear in the bytes fed.
import { LineEnds } from './sse-lines';

export interface ParsedEvent {
  event?: string;
  data: string;
}

export interface SseParserOptions {
  /**
   * Most bytes one event may take, its lines' bytes and one per line end (a \r\n counts as one, as \n and \r do, so
   * an event at the cap is read or skipped alike wherever the chunks split its \r\n); a larger one is skipped whole.
   */
  maxEventBytes: number;
  onEvent(event: ParsedEvent): void;
  /** An event over the cap was skipped (`bytes` of it seen, up to the next blank line). */
  onSkipped(bytes: number): void;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Parses the WHATWG event-stream format (data, event; id and retry are of no use here) from bytes.
 * It holds at most one event's bytes: an event larger than the cap is dropped as it arrives, and
 * parsing resynchronises at the next blank line (eventsource-parser held a line of any length and joined it
 * into one string at its end: past V8's longest string, a RangeError nothing caught).
 */
export class BoundedSseParser {
  private readonly lines = new LineEnds();
  private line: Buffer[] = [];
  private lineBytes = 0;
  private eventBytes = 0;
  private data: string[] = [];
  private eventName: string | undefined;
  private skipping = false;
  /** The stream's first bytes while they may still be a BOM (a chunk may hold one or two of its three). */
  private head: Buffer | null = Buffer.alloc(0);

  constructor(private readonly o: SseParserOptions) {}

  feed(chunk: Buffer): void {
    if (this.head !== null) {
      const opening = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
      if (opening.length < BOM.length && BOM.subarray(0, opening.length).equals(opening)) {
        this.head = opening;
        return;
      }
      this.head = null;
      chunk = opening.subarray(0, 3).equals(BOM) ? opening.subarray(3) : opening;
    }
    const tail = this.lines.scan(chunk, (start, contentEnd) => {
      this.take(chunk, start, contentEnd, 1);
      this.endLine();
    });
    if (tail < chunk.length) this.take(chunk, tail, chunk.length, 0);
  }

  /** The stream ended: a last event without its blank line is not dispatched (as browsers do). */
  end(): void {
    if (this.skipping) this.o.onSkipped(this.eventBytes);
    this.reset();
  }

  private take(chunk: Buffer, start: number, end: number, eolBytes: number): void {
    const bytes = end - start;
    this.lineBytes += bytes;
    this.eventBytes += bytes + eolBytes;
    if (this.skipping) return;
    if (this.eventBytes > this.o.maxEventBytes) {
      this.skipping = true;
      this.line = [];
      this.data = [];
      return;
    }
    if (bytes > 0) this.line.push(chunk.subarray(start, end));
  }

  private endLine(): void {
    const empty = this.lineBytes === 0;
    this.lineBytes = 0;
    if (this.skipping) {
      if (!empty) return;
      this.o.onSkipped(this.eventBytes);
      this.reset();
      return;
    }
    if (empty) {
      if (this.data.length > 0) this.o.onEvent({ event: this.eventName, data: this.data.join('\n') });
      this.reset();
      return;
    }
    // A line end is ASCII, never inside a UTF-8 sequence: a whole line decodes on its own.
    const text = (this.line.length === 1 ? this.line[0]! : Buffer.concat(this.line)).toString('utf8');
    this.line = [];
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.eventName = value;
  }

  private reset(): void {
    this.line = [];
    this.lineBytes = 0;
    this.eventBytes = 0;
    this.data = [];
    this.eventName = undefined;
    this.skipping = false;
  }
}
