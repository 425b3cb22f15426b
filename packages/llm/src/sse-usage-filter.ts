// Hides what `include_usage` added to an OpenAI chat stream from a client that did not ask for it.
import { Transform, type TransformCallback } from 'node:stream';
import { hasNullUsage, isUsageOnlyChunk } from './openai-stream';
import { LF, LineEnds, endsOnCr } from './sse-lines';
import { exceedsContainers } from './answer-bounds';

/** What rewriteEvent looks for first (bytes, so the search needs no conversion per event). */
const USAGE = Buffer.from('usage');
const ESCAPE = Buffer.from('\\u');

/** Default cap on one event held by the filter (4 MiB). */
export const MAX_FILTERED_EVENT_BYTES = 4 * 1024 * 1024;

export interface SseUsageFilterOptions {
  /** Most bytes of one event held to rewrite it; a larger event passes through unfiltered. Defaults to 4 MiB. */
  maxEventBytes?: number;
  /** Called once, the first time an event over the cap passed unfiltered. */
  onOversize?: () => void;
}

/**
 * Passes events through one by one as soon as each is complete (never the whole stream), except
 * the usage-only final chunk, which is dropped; `"usage": null` members are removed from the others.
 * Events it does not understand pass unchanged. It holds at most `maxEventBytes` of one event and
 * looks at each byte once: a larger event streams through as it arrives, byte for byte (the old
 * filter kept it whole and searched it again from its start on every chunk).
 *
 * Pure and synchronous: `feed` each chunk and send what it returns, then `finish`. The gateway calls it from its
 * upstream handler directly (no stream objects per response); SseUsageFilter is the same as a Transform stream.
 */
export class SseUsageRewriter {
  private readonly lines = new LineEnds();
  private parts: Buffer[] = [];
  private size = 0;
  /** Bytes of the event up to the end of its last non-empty line (the terminator follows). */
  private contentEnd = 0;
  private lineBytes = 0;
  /** The current event went over the cap: its bytes pass as they come, up to its blank line. */
  private passing = false;
  /** The event ended on a \r at the end of a chunk: a \n opening the next chunk belongs to it. */
  private heldOnCr = false;
  private warned = false;
  /**
   * What one chunk lets out, returned at its end in one piece: an upstream chunk of many events is one piece for
   * the client, so the gateway's hold on a stream's last event (sent with the end) holds the chunk, and the response
   * goes out in one socket write as through a plain proxy, not one for the events before the last and one for the rest.
   */
  private out: Buffer[] = [];
  /** Events passing unchanged, `passChunk[passStart, passEnd)`, not yet in `out` (adjoining ones are joined). */
  private passChunk: Buffer | null = null;
  private passStart = 0;
  private passEnd = 0;
  /** Where `usage` and `\u` are next in the chunk being fed (-2: not searched yet, -1: nowhere after). */
  private usageAt = -2;
  private escapeAt = -2;

  private readonly maxEventBytes: number;
  private readonly onOversize: (() => void) | undefined;

  constructor(o: SseUsageFilterOptions = {}) {
    this.maxEventBytes = o.maxEventBytes ?? MAX_FILTERED_EVENT_BYTES;
    this.onOversize = o.onOversize;
  }

  /** Bytes held now (at most the cap). */
  get buffered(): number {
    return this.size;
  }

  /** What the client gets of `chunk` (the events it completes, and any bytes passing unfiltered), or null. */
  feed(chunk: Buffer): Buffer | null {
    // Nothing to let out, and an event held on its \r must still take a \n opening the next chunk.
    if (chunk.length === 0) return null;
    let from = 0;
    this.usageAt = -2;
    this.escapeAt = -2;
    if (this.heldOnCr) {
      this.heldOnCr = false;
      if (chunk[0] === LF) {
        this.append(chunk.subarray(0, 1));
        from = 1;
      }
      this.endEvent();
    }
    // An event that begins in this chunk is read in place, [evStart, ...) with its last content line ending at
    // evContentEnd; one carried over from an earlier chunk (or passing over the cap) is collected in `parts`.
    let evStart = this.size === 0 && !this.passing ? from : -1;
    let evContentEnd = -1;
    const tail = this.lines.scan(chunk, (start, contentEnd, next) => {
      const empty = this.lineBytes === 0 && contentEnd === start;
      this.lineBytes = 0;
      if (evStart >= 0) {
        from = next;
        if (!empty) {
          evContentEnd = contentEnd;
          return;
        }
        if (endsOnCr(chunk, next)) {
          // A \n opening the next chunk may belong to its blank line: held, as an event read across chunks is.
          this.collect(chunk, evStart, evContentEnd, next);
          this.heldOnCr = true;
          evStart = -1;
          return;
        }
        this.endInPlace(chunk, evStart, evContentEnd, next);
        evStart = next;
        evContentEnd = -1;
        return;
      }
      this.append(chunk.subarray(from, contentEnd));
      if (!empty) this.contentEnd = this.size;
      this.append(chunk.subarray(contentEnd, next));
      from = next;
      if (!empty) return;
      if (endsOnCr(chunk, next)) this.heldOnCr = true;
      else {
        this.endEvent();
        evStart = next;
        evContentEnd = -1;
      }
    });
    this.lineBytes += chunk.length - tail;
    if (evStart >= 0) this.collect(chunk, evStart, evContentEnd, chunk.length);
    else this.append(chunk.subarray(from));
    return this.release();
  }

  /** What is left at the end of the stream (an unended event, or one held on its \r) as it is, or null. */
  finish(): Buffer | null {
    if (this.heldOnCr) {
      this.heldOnCr = false;
      this.endEvent();
    } else this.emitHeld();
    return this.release();
  }

  /** Adds `chunk[start, end)`, read in place so far, to the event collected across chunks. */
  private collect(chunk: Buffer, start: number, contentEnd: number, end: number): void {
    const base = this.size;
    this.append(chunk.subarray(start, end));
    if (!this.passing && contentEnd >= 0) this.contentEnd = base + (contentEnd - start);
  }

  /** An event read in place, `chunk[start, end)`: passed on in place unless it may name usage (within the cap). */
  private endInPlace(chunk: Buffer, start: number, contentEnd: number, end: number): void {
    if (end - start > this.maxEventBytes) {
      this.oversize();
      this.pass(chunk, start, end);
      return;
    }
    if (!this.mayNameUsageIn(chunk, start, end)) {
      this.pass(chunk, start, end);
      return;
    }
    this.rewrite(chunk.subarray(start, end), contentEnd < 0 ? 0 : contentEnd - start);
  }

  /**
   * rewriteEvent's first test, on the bytes `chunk[start, end)`: `usage` in them as it is, or a \u escape that could
   * spell it. Each needle's next place is kept per chunk, so a chunk of many events is searched once for each.
   */
  private mayNameUsageIn(chunk: Buffer, start: number, end: number): boolean {
    if (this.usageAt !== -1 && this.usageAt < start) this.usageAt = chunk.indexOf(USAGE, start);
    if (this.usageAt !== -1 && this.usageAt + USAGE.length <= end) return true;
    if (this.escapeAt !== -1 && this.escapeAt < start) this.escapeAt = chunk.indexOf(ESCAPE, start);
    return this.escapeAt !== -1 && this.escapeAt + ESCAPE.length <= end;
  }

  /** Lets `chunk[start, end)` out unchanged, joined to the bytes let out just before it when they adjoin. */
  private pass(chunk: Buffer, start: number, end: number): void {
    if (this.passChunk === chunk && this.passEnd === start) {
      this.passEnd = end;
      return;
    }
    this.flushPass();
    this.passChunk = chunk;
    this.passStart = start;
    this.passEnd = end;
  }

  private flushPass(): void {
    if (this.passChunk === null) return;
    this.out.push(this.passChunk.subarray(this.passStart, this.passEnd));
    this.passChunk = null;
  }

  private send(bytes: Buffer): void {
    this.flushPass();
    this.out.push(bytes);
  }

  /** What this chunk let out, in one piece. */
  private release(): Buffer | null {
    this.flushPass();
    const out = this.out;
    if (out.length === 0) return null;
    this.out = [];
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  private append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.passing) {
      this.send(bytes);
      return;
    }
    this.parts.push(bytes);
    this.size += bytes.length;
    if (this.size <= this.maxEventBytes) return;
    this.passing = true;
    this.emitHeld();
    this.oversize();
  }

  private oversize(): void {
    if (this.warned) return;
    this.warned = true;
    this.onOversize?.();
  }

  private endEvent(): void {
    if (this.passing) {
      this.passing = false;
      this.contentEnd = 0;
      return;
    }
    const bytes = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
    const contentEnd = this.contentEnd;
    this.clear();
    if (bytes.length === 0) return;
    if (bytes.indexOf(USAGE) === -1 && bytes.indexOf(ESCAPE) === -1) this.send(bytes);
    else this.rewrite(bytes, contentEnd);
  }

  /** Sends one event's bytes (its last content line ending at `contentEnd`) as rewriteEvent leaves them. */
  private rewrite(bytes: Buffer, contentEnd: number): void {
    const text = bytes.toString('utf8');
    // The terminator (line ends only) is ASCII: as many characters as bytes.
    const terminator = text.slice(text.length - (bytes.length - contentEnd));
    const out = rewriteEvent(text, terminator);
    // An event left as it was goes out as the bytes that came (invalid UTF-8 included).
    if (out === text) this.send(bytes);
    else if (out.length > 0) this.send(Buffer.from(out, 'utf8'));
  }

  private emitHeld(): void {
    for (const p of this.parts) this.send(p);
    this.clear();
  }

  private clear(): void {
    this.parts = [];
    this.size = 0;
    this.contentEnd = 0;
  }
}

/** SseUsageRewriter as a Transform stream (for a body that goes through streams anyway, such as a decoder's). */
export class SseUsageFilter extends Transform {
  private readonly rewriter: SseUsageRewriter;

  constructor(o: SseUsageFilterOptions = {}) {
    super();
    this.rewriter = new SseUsageRewriter(o);
  }

  /** Bytes held now (at most the cap). */
  get buffered(): number {
    return this.rewriter.buffered;
  }

  // A throw here would escape the pipe that writes to the filter (it is no 'error' event): passed to `done` instead.
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let out: Buffer | null;
    try {
      out = this.rewriter.feed(chunk);
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (out !== null) this.push(out);
    done();
  }

  override _flush(done: TransformCallback): void {
    let out: Buffer | null;
    try {
      out = this.rewriter.finish();
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (out !== null) this.push(out);
    done();
  }
}

/** One event's text (with its terminator) as the client should see it: unchanged, rewritten, or ''. */
export function rewriteEvent(text: string, terminator: string): string {
  // Only an object with a `usage` member is dropped or rewritten: its key is in the text as it is, or with a \u
  // escape. Without either, the event is left unparsed (most content deltas).
  if (!text.includes('usage') && !text.includes('\\u')) return text;
  const lines = text.slice(0, text.length - terminator.length).split(/\r\n|\n|\r/);
  if (lines.length === 0 || !lines.every((l) => l.startsWith('data:'))) return text;
  const data = lines.map((l) => l.slice(l.startsWith('data: ') ? 6 : 5)).join('\n');
  if (!data.startsWith('{') || exceedsContainers(data)) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return text;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return text;
  const obj = parsed as Record<string, unknown>;
  if (isUsageOnlyChunk(obj)) return '';
  if (!hasNullUsage(obj)) return text;
  delete obj.usage;
  try {
    return `data: ${JSON.stringify(obj)}${terminator}`;
  } catch {
    // Nested deeper than JSON.stringify's stack (JSON.parse has none): the event goes as it came.
    return text;
  }
}
