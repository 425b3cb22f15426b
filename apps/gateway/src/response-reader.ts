// Reads token usage from a copy of the upstream response's bytes, never holding up the client's copy.
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createUnzip } from 'node:zlib';
import {
  StreamUsageReader,
  modelFromJson,
  outputCharsFromJson,
  usageFromJson,
  type LlmProvider,
  type ReportedUsage,
  BoundedSseParser,
} from '@tollgate/llm';
import { exceedsContainers } from '@tollgate/llm/internal';

/**
 * What a 2xx answer to an LLM call said about usage, once it ended (or was cut). An answer the reader cannot
 * read as an LLM one (an unrelated JSON, an HTML page, no body) is still a call the upstream served: it is
 * settled as an estimate from what it held, never released as if nothing was used.
 */
export interface ResponseUsage {
  reported: ReportedUsage | null;
  /** False when a stream ended before its final usage event, or the body was not read to its end. */
  complete: boolean;
  outputChars: number;
  model: string | null;
  provider: LlmProvider | null;
}

/** Most decoded bytes of an event stream read for usage (256 MiB): past it the stream's usage is estimated. */
export const MAX_STREAM_BYTES = 256 * 1024 * 1024;

export interface ResponseReaderOptions {
  contentType: string | undefined;
  contentEncoding: string | undefined;
  /**
   * Most bytes of one JSON document read for usage: a JSON body (also the most decoded bytes read of
   * it), or one event of a stream (a larger event is skipped).
   */
  maxJsonBytes: number;
  /** Most decoded bytes of an event stream read for usage. Defaults to MAX_STREAM_BYTES. */
  maxStreamBytes?: number;
  /** Called at most once per response, when part of the body could not be read for usage (`reason` says why). */
  onLimit?: (reason: string) => void;
}

/** A 2xx LLM answer whose usage could not be read: settled as an estimate from `chars` characters seen. */
function unread(chars: number): ResponseUsage {
  return {
    reported: null,
    complete: false,
    outputChars: chars,
    model: null,
    provider: null,
  };
}

/** Characters of UTF-8 `bytes` (every byte that does not continue a sequence starts one). */
function utf8Chars(bytes: Buffer): number {
  let continuation = 0;
  for (let i = 0; i < bytes.length; i++) if ((bytes[i]! & 0xc0) === 0x80) continuation++;
  return bytes.length - continuation;
}

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
  write(bytes: Buffer): void;
  /** The body ended: its usage. */
  end(): ResponseUsage;
  /** The body is not read further (a cap): the usage of what was read, to be estimated. */
  cut(): ResponseUsage;
}

class SseSink implements Sink {
  private readonly reader = new StreamUsageReader();
  private readonly parser: BoundedSseParser;
  /** Characters of every event's data, for a stream in no format the reader knows. */
  private dataChars = 0;
  constructor(maxEventBytes: number, onLimit: (reason: string) => void) {
    this.parser = new BoundedSseParser({
      maxEventBytes,
      onEvent: (e) => {
        this.dataChars += e.data.length;
        this.reader.push(e);
      },
      onSkipped: () => {
        onLimit(`an event over ${maxEventBytes} bytes was skipped`);
      },
    });
  }
  write(bytes: Buffer): void {
    this.parser.feed(bytes);
  }
  end(): ResponseUsage {
    this.parser.end();
    return this.usage(this.reader.complete);
  }
  cut(): ResponseUsage {
    this.parser.end();
    return this.usage(false);
  }
  private usage(complete: boolean): ResponseUsage {
    const r = this.reader;
    // No event looked like an LLM stream's: every data character counts as output. (A skipped event's bytes
    // are no text read, a compressed one can be gigabytes of nothing: they add no output.)
    if (r.format === null) return unread(this.dataChars);
    return {
      reported: r.reported,
      complete,
      outputChars: r.outputChars,
      model: r.streamModel,
      provider: r.format,
    };
  }
}

/**
 * The characters of `value` as compact JSON; `textChars` (the answer as it came) when it is nested deeper than
 * JSON.stringify's stack (JSON.parse has none, so such an answer parses).
 */
function compactChars(value: unknown, textChars: number): number {
  try {
    return JSON.stringify(value).length;
  } catch {
    return textChars;
  }
}

/**
 * A stream sent as one JSON array of chunks (Gemini's streamGenerateContent without `alt=sse`): read chunk by chunk
 * as the events of a stream would be, so cumulative usage is taken from the last chunk that has it.
 */
function streamedArray(items: unknown[], textChars: number): ResponseUsage {
  const reader = new StreamUsageReader();
  for (const item of items)
    if (item !== null && typeof item === 'object' && !Array.isArray(item))
      reader.pushObject(item as Record<string, unknown>);
  if (reader.format === null) return unread(compactChars(items, textChars));
  return {
    reported: reader.reported,
    complete: reader.complete,
    outputChars: reader.outputChars,
    model: reader.streamModel,
    provider: reader.format,
  };
}

class JsonSink implements Sink {
  private parts: Buffer[] = [];
  private size = 0;
  write(bytes: Buffer): void {
    this.parts.push(bytes);
    this.size += bytes.length;
  }
  end(): ResponseUsage {
    const parts = this.parts;
    const text = (parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.size)).toString('utf8');
    this.parts = [];
    // An answer that would build millions of arrays and objects is not parsed: estimated, as one that is not JSON.
    if (exceedsContainers(text)) return unread(text.length);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      // A 2xx answer the client got, but not as JSON (cut, corrupt): estimated from what it held.
      return unread(text.length);
    }
    if (Array.isArray(body)) return streamedArray(body, text.length);
    if (!looksLikeLlmResponse(body)) return unread(text.length);
    const reported = usageFromJson(body);
    return {
      reported,
      complete: true,
      outputChars: outputCharsFromJson(body),
      model: modelFromJson(body),
      provider: reported?.provider ?? null,
    };
  }
  cut(): ResponseUsage {
    let chars = 0;
    for (const p of this.parts) chars += utf8Chars(p);
    this.parts = [];
    return unread(chars);
  }
}

function inflaterFor(encoding: string): Transform | null {
  if (encoding === 'gzip' || encoding === 'x-gzip' || encoding === 'deflate') return createUnzip();
  if (encoding === 'br') return createBrotliDecompress();
  return null;
}

/**
 * Fed the upstream body chunk by chunk (`write`), then `end()` once it ended or was cut; `result`
 * settles after any decoding finished. gzip/deflate/br bodies are decoded here, on this copy only.
 * Memory and work are bounded: a JSON body is read up to `maxJsonBytes` decoded bytes, a stream up
 * to `maxStreamBytes` (one event up to `maxJsonBytes`); past a cap the decoder is destroyed, the
 * rest is not read, and the usage of what was read is settled as estimated.
 */
export class ResponseReader {
  readonly result: Promise<ResponseUsage>;
  private resolve!: (u: ResponseUsage) => void;
  private readonly sink: Sink | null;
  private inflate: Transform | null = null;
  /** The body's encoding is none the reader decodes: only its size on the wire is known. */
  private undecodable = false;
  private readonly maxDecoded: number;
  private decoded = 0;
  private wireBytes = 0;
  private done = false;
  private value: ResponseUsage | null = null;
  private limited = false;
  private readonly onLimit: (reason: string) => void;

  constructor(options: ResponseReaderOptions) {
    this.result = new Promise((r) => (this.resolve = r));
    this.onLimit = (reason) => {
      if (this.limited) return;
      this.limited = true;
      options.onLimit?.(reason);
    };
    const type = (options.contentType ?? '').toLowerCase();
    const sse = type.startsWith('text/event-stream');
    this.sink = sse
      ? new SseSink(options.maxJsonBytes, this.onLimit)
      : type.includes('json')
        ? new JsonSink()
        : null;
    this.maxDecoded = sse ? (options.maxStreamBytes ?? MAX_STREAM_BYTES) : options.maxJsonBytes;
    const encoding = (options.contentEncoding ?? 'identity').trim().toLowerCase();
    if (!this.sink) {
      // Neither JSON nor events: only its size on the wire is known (the call is estimated from it).
      this.undecodable = true;
      this.onLimit(`content-type "${type}" is no LLM answer format`);
      return;
    }
    if (encoding === 'identity' || encoding === '') return;
    const inflate = inflaterFor(encoding);
    if (!inflate) {
      this.undecodable = true;
      this.onLimit(`content-encoding "${encoding}" cannot be decoded`);
      return;
    }
    this.inflate = inflate;
    inflate.on('data', (chunk: Buffer) => this.feed(chunk));
    // A cut or corrupt body ends the decoder early: what was decoded so far still counts.
    inflate.on('error', (err: NodeJS.ErrnoException) => {
      if (this.done) return;
      // A body cut short (an abort) is no corrupt one: nothing to warn about.
      if (err.code !== 'Z_BUF_ERROR') this.onLimit(`the body could not be decoded (${err.message})`);
      this.finish(this.sink!.end());
    });
    inflate.on('end', () => this.finish(this.sink!.end()));
  }

  /** True when the body is a stream of events (a client abort then ends it; a JSON body is read to its end). */
  get streaming(): boolean {
    return this.sink instanceof SseSink;
  }

  private feed(chunk: Buffer): void {
    if (this.done || !this.sink) return;
    const room = this.maxDecoded - this.decoded;
    this.decoded += chunk.length;
    if (chunk.length <= room) {
      this.sink.write(chunk);
      return;
    }
    if (room > 0) this.sink.write(chunk.subarray(0, room));
    this.onLimit(`the body is over ${this.maxDecoded} decoded bytes; the rest was not read`);
    // No decoding beyond the cap: the inflater and whatever it holds are dropped now.
    this.inflate?.destroy();
    this.finish(this.sink.cut());
  }

  write(chunk: Buffer): void {
    if (this.done) return;
    this.wireBytes += chunk.length;
    if (this.undecodable) return;
    if (this.inflate) this.inflate.write(chunk);
    else this.feed(chunk);
  }

  /** The upstream body ended, completely or not (abort, upstream error, timeout). */
  end(): void {
    if (this.done) return;
    if (this.undecodable) return this.finish(unread(this.wireBytes));
    // A cut compressed body makes the decoder fail at its end: its 'error' handler reads what was decoded.
    if (this.inflate) this.inflate.end();
    else this.finish(this.sink!.end());
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
