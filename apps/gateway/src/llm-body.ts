// Reads an LLM request body the way the upstream would: every declared encoding and charset, bounded in size and time.
import type { IncomingMessage } from 'node:http';
import { promisify, TextDecoder } from 'node:util';
import { brotliDecompress, gunzip, inflate, inflateRaw, type ZlibOptions } from 'node:zlib';
import { structureProblem } from './json-structure';

export interface BodyLimits {
  /** Most bytes read, and most bytes of decoded (decompressed) body. */
  maxBytes: number;
  /** When the whole body must have arrived (a `performance.now()` time). */
  deadline: number;
}

/** A JSON object body, and the UTF-8 bytes to forward for it. */
export interface ReadJson {
  ok: true;
  body: Record<string, unknown>;
  /** The UTF-8 JSON text that was parsed: the bytes received when they were that already. */
  bytes: Buffer;
  /** The Content-Type to send upstream with `bytes`. */
  contentType: string;
}

/** Why a body was refused: a status (400, 408, 413, 415) and what to tell the client. */
export interface BodyRefusal {
  ok: false;
  status: 400 | 408 | 413 | 415;
  detail: string;
}

export type BodyResult = ReadJson | BodyRefusal;

/**
 * Top-level fields the gateway meters by. Go's encoding/json (Ollama, LocalAI, one-api...) matches keys ignoring
 * case by Unicode folding, so `"MODEL"` or `"ſtream"` is the field there while the gateway reads `model` only: any
 * other spelling of these is refused.
 */
const METERED_FIELDS: ReadonlySet<string> = new Set([
  'model',
  'stream',
  'stream_options',
  'n',
  'max_tokens',
  'max_completion_tokens',
  'max_output_tokens',
]);

/** Most codings a Content-Encoding list may stack. */
const MAX_CODINGS = 2;

type Coding = 'gzip' | 'deflate' | 'br';
type Charset = 'utf-8' | 'utf-16le' | 'utf-16be';

const refuse = (status: BodyRefusal['status'], detail: string): BodyRefusal => ({
  ok: false,
  status,
  detail,
});

/** All values the client sent under `name` (raw headers: a Connection-listed header is still the client's). */
function headerValues(req: IncomingMessage, name: string): string[] {
  const out: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

/** Codings in the order they were applied (decode in reverse), or a refusal. */
function parseCodings(values: string[]): Coding[] | BodyRefusal {
  const codings: Coding[] = [];
  for (const token of values.join(',').split(',')) {
    const c = token.trim().toLowerCase();
    if (c === '' || c === 'identity') continue;
    if (c === 'gzip' || c === 'x-gzip') codings.push('gzip');
    else if (c === 'deflate' || c === 'br') codings.push(c);
    else
      return refuse(
        415,
        `Content-Encoding "${token.trim()}" is not supported (use identity, gzip, deflate or br)`,
      );
  }
  if (codings.length > MAX_CODINGS)
    return refuse(415, `Content-Encoding stacks more than ${MAX_CODINGS} codings`);
  return codings;
}

interface MediaType {
  type: string;
  charset: string | null;
}

/** `type/subtype; charset=...` (quoted or not, any case), or null when it is not a media type. */
function parseMediaType(value: string): MediaType | null {
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  if (!/^[a-z0-9!#$%&'*+.^_`|~-]+\/[a-z0-9!#$%&'*+.^_`|~-]+$/.test(type)) return null;
  let charset: string | null = null;
  const params = semi < 0 ? '' : value.slice(semi);
  const re = /;\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;
  for (let m = re.exec(params); m; m = re.exec(params)) {
    if (m[1]!.toLowerCase() !== 'charset') continue;
    const v = m[2]!.trim();
    charset = (v.startsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v).trim().toLowerCase();
  }
  return { type, charset };
}

const isJsonType = (type: string): boolean => type === 'application/json' || type.endsWith('+json');

function bomOf(b: Buffer): { charset: Charset; length: number } | null {
  if (b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf)
    return { charset: 'utf-8', length: 3 };
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe) return { charset: 'utf-16le', length: 2 };
  if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) return { charset: 'utf-16be', length: 2 };
  return null;
}

/** RFC 4627 §3: JSON text starts with an ASCII character, so a zero byte beside it shows UTF-16. */
function sniffCharset(b: Buffer): Charset {
  if (b.length >= 2 && b[0] === 0 && b[1] !== 0) return 'utf-16be';
  if (b.length >= 2 && b[0] !== 0 && b[1] === 0) return 'utf-16le';
  return 'utf-8';
}

/** One fatal decoder per charset, made once: a decode without `stream` starts afresh, so they are shared. */
const DECODERS: Record<Charset, TextDecoder> = {
  'utf-8': new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }),
  'utf-16le': new TextDecoder('utf-16le', { fatal: true, ignoreBOM: true }),
  'utf-16be': new TextDecoder('utf-16be', { fatal: true, ignoreBOM: true }),
};

const zlibCall = {
  gzip: promisify<Buffer, ZlibOptions, Buffer>(gunzip),
  inflate: promisify<Buffer, ZlibOptions, Buffer>(inflate),
  inflateRaw: promisify<Buffer, ZlibOptions, Buffer>(inflateRaw),
  br: promisify<Buffer, ZlibOptions, Buffer>(brotliDecompress),
};

class TooLarge extends Error {}
class TimedOut extends Error {}
class Aborted extends Error {}

/** One layer undone, in the thread pool, stopping as soon as the output passes `max` (a bomb is never inflated). */
async function decode(coding: Coding, data: Buffer, max: number): Promise<Buffer> {
  const opts = { maxOutputLength: max };
  try {
    if (coding === 'gzip') return await zlibCall.gzip(data, opts);
    if (coding === 'br') return await zlibCall.br(data, opts);
    // "deflate" is zlib-wrapped by the spec, raw in some clients: read both, as browsers do.
    return await zlibCall.inflate(data, opts).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ERR_BUFFER_TOO_LARGE') throw err;
      return zlibCall.inflateRaw(data, opts);
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new TooLarge();
    throw err;
  }
}

/** Reads the whole body: at most `maxBytes`, before `deadline`; rejects TooLarge, TimedOut or Aborted. */
function readRaw(req: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Read already (a body parser mounted before the gateway): there is nothing left, not a body to wait for.
    if (req.readableEnded) {
      resolve(Buffer.alloc(0));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limits.maxBytes) fail(new TooLarge());
      else chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      // Most bodies come in one chunk: that one, not a copy.
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onAbort = () => fail(new Aborted());
    const timer = setTimeout(() => fail(new TimedOut()), Math.max(0, limits.deadline - performance.now()));
    const cleanup = () => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('aborted', onAbort);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('aborted', onAbort);
  });
}

/**
 * Reads an LLM request body as a JSON object, or says why not (never a body the gateway could not
 * meter): Content-Encoding identity/gzip/x-gzip/deflate/br (a list is undone last-applied first),
 * decoded size bounded by `maxBytes` (413); Content-Type a JSON type, or none (then sniffed);
 * charset UTF-8 (BOM or not) or UTF-16LE/BE (BOM or declared), else 415; malformed, too deep,
 * duplicate keys or not an object: 400; more than a request builds (json-structure.ts: containers, values, keys,
 * hidden classes, interned strings), a key over 4,096 characters or a number of over 20 significant digits: 413; not
 * all there by `deadline`: 408.
 */
export async function readJsonBody(req: IncomingMessage, limits: BodyLimits): Promise<BodyResult | null> {
  const codings = parseCodings(headerValues(req, 'content-encoding'));
  if (!Array.isArray(codings)) return codings;
  const types = headerValues(req, 'content-type');
  if (new Set(types.map((t) => t.trim().toLowerCase())).size > 1)
    return refuse(400, 'the request has more than one Content-Type');
  const declared = types.length > 0 ? parseMediaType(types[0]!) : null;
  if (types.length > 0 && (!declared || !isJsonType(declared.type)))
    return refuse(415, `Content-Type "${types[0]}" is not JSON (use application/json)`);
  let charset: Charset | 'utf-16' | null = null;
  if (declared?.charset) {
    const c = declared.charset;
    if (c === 'utf-8' || c === 'utf8') charset = 'utf-8';
    else if (c === 'utf-16le' || c === 'utf-16be' || c === 'utf-16') charset = c;
    else return refuse(415, `charset "${c}" is not supported (use utf-8)`);
  }
  const length = Number(req.headers['content-length']);
  if (Number.isFinite(length) && length > limits.maxBytes) return tooLarge(limits);

  let data: Buffer;
  try {
    data = await readRaw(req, limits);
    for (const coding of [...codings].reverse()) {
      try {
        data = await decode(coding, data, limits.maxBytes);
      } catch (err) {
        if (err instanceof TooLarge) throw err;
        return refuse(400, `the body is not valid ${coding} data`);
      }
    }
  } catch (err) {
    if (err instanceof TooLarge) return tooLarge(limits);
    if (err instanceof TimedOut)
      return refuse(408, `the request body did not arrive within the gateway's time limit`);
    return null;
  }

  const bom = bomOf(data);
  if (bom && charset && charset !== 'utf-16' && charset !== bom.charset)
    return refuse(400, `the body's byte order mark (${bom.charset}) contradicts charset=${charset}`);
  if (bom && charset === 'utf-16' && bom.charset === 'utf-8')
    return refuse(400, `the body's byte order mark (utf-8) contradicts charset=utf-16`);
  if (!bom && charset === 'utf-16')
    return refuse(415, 'charset=utf-16 needs a byte order mark (or use utf-8)');
  const effective: Charset = bom?.charset ?? (charset as Charset | null) ?? sniffCharset(data);
  let text: string;
  try {
    text = DECODERS[effective].decode(bom ? data.subarray(bom.length) : data);
  } catch {
    return refuse(400, `the body is not valid ${effective}`);
  }
  const structure = structureProblem(text, METERED_FIELDS);
  if (structure) return refuse(structure.status, structure.detail);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return refuse(400, 'the body is not valid JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    return refuse(400, 'the body must be a JSON object');

  const asReceived = codings.length === 0 && effective === 'utf-8' && !bom;
  return {
    ok: true,
    body: body as Record<string, unknown>,
    bytes: asReceived ? data : Buffer.from(text, 'utf8'),
    contentType: !asReceived
      ? 'application/json; charset=utf-8'
      : declared
        ? types[0]!.trim()
        : 'application/json',
  };
}

function tooLarge(limits: BodyLimits): BodyRefusal {
  return refuse(413, `request bodies are limited to ${limits.maxBytes} bytes (decoded)`);
}
