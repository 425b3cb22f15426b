// Reads token usage from a copy of the upstream response's bytes, never holding up the client's copy.
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createUnzip } from 'node:zlib';
import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceParser } from 'eventsource-parser';
import {
  StreamUsageReader,
  modelFromJson,
  outputCharsFromJson,
  usageFromJson,
  type LlmProvider,
  type ReportedUsage,
} from '@tollgate/core';

/** What the response said about usage, once it ended (or was cut). */
export interface ResponseUsage {
  /** False when the body was not an LLM response (an error page, an unrelated JSON): nothing to settle but the reservation. */
  recognised: boolean;
  reported: ReportedUsage | null;
  /** False when a stream ended before its final usage event. */
  complete: boolean;
  outputChars: number;
  model: string | null;
  provider: LlmProvider | null;
}

export interface ResponseReaderOptions {
  contentType: string | undefined;
  contentEncoding: string | undefined;
  /** Most bytes of a JSON body copied for parsing; beyond it the body is not read. */
  maxJsonBytes: number;
}

const NOT_RECOGNISED: ResponseUsage = {
  recognised: false,
  reported: null,
  complete: false,
  outputChars: 0,
  model: null,
  provider: null,
};

/** Keys only LLM responses carry, so an unrelated JSON body is not mistaken for one. */
function looksLikeLlmResponse(body: unknown): boolean {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return false;
  const o = body as Record<string, unknown>;
  return (
    Array.isArray(o.choices) ||
    Array.isArray(o.candidates) ||
    o.type === 'message' ||
    o.object === 'response' ||
    (typeof o.usage === 'object' && o.usage !== null) ||
    (typeof o.usageMetadata === 'object' && o.usageMetadata !== null)
  );
}

interface Sink {
  write(text: string): void;
  end(): ResponseUsage;
}

class SseSink implements Sink {
  private readonly reader = new StreamUsageReader();
  private readonly parser: EventSourceParser;
  constructor() {
    this.parser = createParser({ onEvent: (e) => this.reader.push({ event: e.event, data: e.data }) });
  }
  write(text: string): void {
    this.parser.feed(text);
  }
  end(): ResponseUsage {
    const r = this.reader;
    return {
      recognised: r.format !== null,
      reported: r.reported,
      complete: r.complete,
      outputChars: r.outputChars,
      model: r.streamModel,
      provider: r.format,
    };
  }
}

class JsonSink implements Sink {
  private parts: string[] = [];
  private size = 0;
  private overflow = false;
  constructor(private readonly max: number) {}
  write(text: string): void {
    if (this.overflow) return;
    this.size += text.length;
    if (this.size > this.max) {
      this.overflow = true;
      this.parts = [];
      return;
    }
    this.parts.push(text);
  }
  end(): ResponseUsage {
    if (this.overflow) return NOT_RECOGNISED;
    let body: unknown;
    try {
      body = JSON.parse(this.parts.join(''));
    } catch {
      return NOT_RECOGNISED;
    }
    if (!looksLikeLlmResponse(body)) return NOT_RECOGNISED;
    const reported = usageFromJson(body);
    return {
      recognised: true,
      reported,
      complete: true,
      outputChars: outputCharsFromJson(body),
      model: modelFromJson(body),
      provider: reported?.provider ?? null,
    };
  }
}

/**
 * Fed the upstream body chunk by chunk (`write`), then `end()` once it ended or was cut; `result`
 * settles after any decoding finished. gzip/deflate/br bodies are decoded here, on this copy only.
 */
export class ResponseReader {
  readonly result: Promise<ResponseUsage>;
  private resolve!: (u: ResponseUsage) => void;
  private readonly sink: Sink | null;
  private readonly decoder = new StringDecoder('utf8');
  private readonly inflate: Transform | null = null;
  private done = false;
  private value: ResponseUsage | null = null;

  constructor(options: ResponseReaderOptions) {
    this.result = new Promise((r) => (this.resolve = r));
    const type = (options.contentType ?? '').toLowerCase();
    this.sink = type.startsWith('text/event-stream')
      ? new SseSink()
      : type.includes('json')
        ? new JsonSink(options.maxJsonBytes)
        : null;
    const encoding = (options.contentEncoding ?? 'identity').trim().toLowerCase();
    if (!this.sink) return;
    if (encoding === 'identity' || encoding === '') return;
    if (encoding === 'gzip' || encoding === 'x-gzip' || encoding === 'deflate') this.inflate = createUnzip();
    else if (encoding === 'br') this.inflate = createBrotliDecompress();
    else {
      this.finish(NOT_RECOGNISED);
      return;
    }
    this.inflate.on('data', (chunk: Buffer) => this.feed(chunk));
    // A cut stream ends the decoder early: what was decoded so far still counts.
    this.inflate.on('error', () => this.finish(this.drain()));
    this.inflate.on('end', () => this.finish(this.drain()));
  }

  /** True when the body is a stream of events (a client abort then ends it; a JSON body is read to its end). */
  get streaming(): boolean {
    return this.sink instanceof SseSink;
  }

  private feed(chunk: Buffer): void {
    if (this.done || !this.sink) return;
    this.sink.write(this.decoder.write(chunk));
  }

  write(chunk: Buffer): void {
    if (this.done || !this.sink) return;
    if (this.inflate) this.inflate.write(chunk);
    else this.feed(chunk);
  }

  /** The upstream body ended, completely or not (abort, upstream error, timeout). */
  end(): void {
    if (this.done) return;
    if (!this.sink) return this.finish(NOT_RECOGNISED);
    // A cut compressed body makes the decoder fail at its end: its 'error' handler reads what was decoded.
    if (this.inflate) this.inflate.end();
    else this.finish(this.drain());
  }

  private drain(): ResponseUsage {
    const tail = this.decoder.end();
    if (tail) this.sink!.write(tail);
    return this.sink!.end();
  }

  /** The usage if it is known already (the body ended and needed no decoding), else null. */
  peek(): ResponseUsage | null {
    return this.value;
  }

  private finish(u: ResponseUsage): void {
    if (this.done) return;
    this.done = true;
    this.value = u;
    this.resolve(u);
  }
}
