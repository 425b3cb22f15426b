// Hides what `include_usage` added to an OpenAI chat stream from a client that did not ask for it.
import { StringDecoder } from 'node:string_decoder';
import { Transform, type TransformCallback } from 'node:stream';
import { hasNullUsage, isUsageOnlyChunk } from '@tollgate/core';

// An event ends at a blank line; lines end in \r\n, \n or \r.
const EVENT_END = /\r\n\r\n|\n\n|\r\r/;

/**
 * Passes events through one by one as soon as each is complete (never the whole stream), except
 * the usage-only final chunk, which is dropped; `"usage": null` members are removed from the others.
 * Events it does not understand pass unchanged.
 */
export class SseUsageFilter extends Transform {
  private pending = '';
  private readonly decoder = new StringDecoder('utf8');

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pending += this.decoder.write(chunk);
    let out = '';
    for (;;) {
      const m = EVENT_END.exec(this.pending);
      if (!m) break;
      const end = m.index + m[0].length;
      out += rewriteEvent(this.pending.slice(0, end), this.pending.slice(m.index, end));
      this.pending = this.pending.slice(end);
    }
    done(null, out.length > 0 ? Buffer.from(out, 'utf8') : undefined);
  }

  override _flush(done: TransformCallback): void {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    done(null, rest.length > 0 ? Buffer.from(rest, 'utf8') : undefined);
  }
}

/** One event's text (with its terminator) as the client should see it: unchanged, rewritten, or ''. */
export function rewriteEvent(text: string, terminator: string): string {
  const lines = text.slice(0, text.length - terminator.length).split(/\r\n|\n|\r/);
  if (lines.length === 0 || !lines.every((l) => l.startsWith('data:'))) return text;
  const data = lines.map((l) => l.slice(l.startsWith('data: ') ? 6 : 5)).join('\n');
  if (!data.startsWith('{')) return text;
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
  return `data: ${JSON.stringify(obj)}${terminator}`;
}
