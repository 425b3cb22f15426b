// A test upstream as lenient as real servers get: it routes and parses whatever a gateway might let through
// (any spelling of the path, any charset or encoding of the body) and records, per user, the tokens it served.
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  brotliCompressSync,
  brotliDecompressSync,
  deflateSync,
  gunzipSync,
  gzipSync,
  inflateRawSync,
  inflateSync,
} from 'node:zlib';
import express, { type NextFunction, type Request, type Response } from 'express';

export interface SeenRequest {
  /** `METHOD target HTTP/x.y`, the target exactly as it arrived. */
  requestLine: string;
  method: string;
  /** The raw request target. */
  target: string;
  /** The path the upstream routed on, after its own normalisation. */
  routedPath: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  userId: string | null;
  /** The model of the parsed JSON body, if any. */
  model: string | null;
}

export interface ServedUsage {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  models: string[];
}

/** Output tokens of every completion: fixed, so a test knows them without reading the answer. */
export const COMPLETION_TOKENS = 9;

/** Prompt tokens the upstream charges: a deterministic function of the prompt text (about 2 characters a token). */
export function promptTokensFor(body: unknown): number {
  const messages = (body as { messages?: unknown } | null)?.messages;
  let chars = 0;
  if (Array.isArray(messages))
    for (const m of messages) {
      const content = (m as { content?: unknown } | null)?.content;
      if (typeof content === 'string') chars += content.length;
    }
  return 5 + Math.ceil(chars / 2);
}

/** Pydantic's lax booleans (vLLM, LiteLLM and most Python servers): `"true"`, `1`, `"on"` all mean true. */
function laxTrue(v: unknown): boolean {
  if (v === true || v === 1) return true;
  return typeof v === 'string' && ['true', '1', 'yes', 'on', 't', 'y'].includes(v.toLowerCase());
}

/**
 * The path as the most forgiving servers route it: fragment dropped, every valid escape decoded (Go's
 * URL.Path decodes `%2F` too), a NUL ends the path (C servers), `\` is `/` (IIS, WHATWG URL), `;params` are
 * stripped from each segment (Tomcat, Jetty), repeated slashes merged and dot segments resolved.
 */
export function lenientPath(target: string): string {
  let t = target;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(t);
  if (scheme) t = t.slice(scheme[0].length) || '/';
  t = t.split('#')[0]!.split('?')[0]!;
  t = t.replace(/%([0-9a-f]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  const nul = t.indexOf('\0');
  if (nul !== -1) t = t.slice(0, nul);
  t = t.replace(/\\/g, '/');
  const out: string[] = [];
  for (const raw of t.split('/')) {
    const seg = raw.split(';')[0]!;
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const trailing = t.endsWith('/') && out.length > 0 ? '/' : '';
  return `/${out.join('/')}${trailing}`;
}

function decodeContent(raw: Buffer, contentEncoding: string | undefined): Buffer {
  let body = raw;
  const codings = (contentEncoding ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  // Listed in the order they were applied: undone last to first.
  for (const coding of codings.reverse()) {
    if (coding === 'gzip' || coding === 'x-gzip') body = gunzipSync(body);
    else if (coding === 'deflate') {
      try {
        body = inflateSync(body);
      } catch {
        body = inflateRawSync(body);
      }
    } else if (coding === 'br') body = brotliDecompressSync(body);
    else throw new Error(`unsupported content-encoding ${coding}`);
  }
  return body;
}

function swap16(b: Buffer): Buffer {
  const copy = Buffer.from(b.subarray(0, b.length - (b.length % 2)));
  return copy.swap16();
}

/** Text of a body by BOM, then the declared charset, then RFC 4627's NUL-pattern sniffing. */
function decodeText(body: Buffer, contentType: string | undefined): string {
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) return body.subarray(3).toString('utf8');
  if (body[0] === 0xff && body[1] === 0xfe) return body.subarray(2).toString('utf16le');
  if (body[0] === 0xfe && body[1] === 0xff) return swap16(body.subarray(2)).toString('utf16le');
  const charset = /charset\s*=\s*"?([^";,\s]+)/i.exec(contentType ?? '')?.[1]?.toLowerCase();
  if (charset === 'utf-16le') return body.toString('utf16le');
  if (charset === 'utf-16be' || charset === 'utf-16') return swap16(body).toString('utf16le');
  if (charset === 'latin1' || charset === 'iso-8859-1') return body.toString('latin1');
  if (body.length >= 2 && body[0] !== 0 && body[1] === 0) return body.toString('utf16le');
  if (body.length >= 2 && body[0] === 0 && body[1] !== 0) return swap16(body).toString('utf16le');
  return body.toString('utf8');
}

/** A zstd frame of raw (stored) blocks: valid zstd that this Node version cannot decode (node:zlib has no zstd). */
export function zstdStored(data: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58])];
  const max = 128 * 1024;
  for (let off = 0; off < data.length || off === 0; off += max) {
    const block = data.subarray(off, off + max);
    const last = off + max >= data.length ? 1 : 0;
    const header = (block.length << 3) | last;
    parts.push(Buffer.from([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff]), block);
    if (data.length === 0) break;
  }
  return Buffer.concat(parts);
}

/** The client's most preferred coding this upstream can produce (zstd included), else identity. */
function responseCoding(acceptEncoding: string | undefined): string {
  const offered = (acceptEncoding ?? '')
    .split(',')
    .map((part) => {
      const [name, ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => /^\s*q=([0-9.]+)/.exec(p)?.[1]).find((x) => x !== undefined);
      return { name: name!.trim(), q: q === undefined ? 1 : Number(q) };
    })
    // `*` is any coding: this upstream's favourite, zstd.
    .map((c) => (c.name === '*' ? { ...c, name: 'zstd' } : c))
    .filter((c) => c.q > 0 && ['zstd', 'br', 'gzip', 'deflate'].includes(c.name));
  offered.sort((a, b) => b.q - a.q);
  return offered[0]?.name ?? 'identity';
}

function encodeContent(body: Buffer, coding: string): Buffer {
  if (coding === 'zstd') return zstdStored(body);
  if (coding === 'br') return brotliCompressSync(body);
  if (coding === 'gzip') return gzipSync(body);
  if (coding === 'deflate') return deflateSync(body);
  return body;
}

export class LenientUpstream {
  readonly seen: SeenRequest[] = [];
  private readonly served = new Map<string, ServedUsage>();
  private server: http.Server | null = null;
  url = '';
  port = 0;

  /** `usageEverywhere`: every path answers a chat completion with usage (to see which paths the gateway meters). */
  constructor(private readonly options: { usageEverywhere?: boolean } = {}) {}

  /** What the upstream served this user (zero when it never answered them). */
  servedTo(userId: string): ServedUsage {
    return this.served.get(userId) ?? { calls: 0, inputTokens: 0, outputTokens: 0, models: [] };
  }

  /** Every request the upstream saw from this user. */
  seenFrom(userId: string): SeenRequest[] {
    return this.seen.filter((s) => s.userId === userId);
  }

  /** Every model any request body named. */
  modelsSeen(): string[] {
    return this.seen.map((s) => s.model).filter((m): m is string => m !== null);
  }

  async start(): Promise<this> {
    const app = express();
    app.set('case sensitive routing', false);
    app.set('strict routing', false);
    app.disable('x-powered-by');
    app.use(this.normalise);
    app.use(this.parseBody);
    app.post('/api/v1/chat/completions', this.chat);
    app.use((req: Request, res: Response) => {
      if (this.options.usageEverywhere) return this.chat(req, res);
      res.status(404).json({ error: { message: `no route ${req.method} ${req.url}` } });
    });
    app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
      void _next;
      res.status(400).json({ error: { message: err.message } });
    });
    this.server = http.createServer(app);
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** Records the request as it arrived, then rewrites it the way lenient servers read it. */
  private readonly normalise = (req: Request, _res: Response, next: NextFunction): void => {
    const target = req.url;
    const routedPath = lenientPath(target);
    const q = target.split('#')[0]!.indexOf('?');
    req.url = routedPath + (q === -1 ? '' : target.split('#')[0]!.slice(q));
    const userId = req.headers['x-user-id'];
    this.seen.push({
      requestLine: `${req.method} ${target} HTTP/${req.httpVersion}`,
      method: req.method,
      target,
      routedPath,
      headers: { ...req.headers },
      rawHeaders: [...req.rawHeaders],
      userId: typeof userId === 'string' ? userId : null,
      model: null,
    });
    // Google APIs, Rails and Express's method-override honour these: a GET with a body is a POST.
    const override =
      req.headers['x-http-method-override'] ??
      req.headers['x-http-method'] ??
      req.headers['x-method-override'];
    if (typeof override === 'string') req.method = override.toUpperCase();
    next();
  };

  /** Any body is JSON, whatever the Content-Type says (or if it says nothing). */
  private readonly parseBody = (req: Request, _res: Response, next: NextFunction): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', next);
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      if (raw.length === 0) return next();
      try {
        const text = decodeText(
          decodeContent(raw, req.headers['content-encoding']),
          req.headers['content-type'],
        );
        const body: unknown = JSON.parse(text);
        (req as Request & { body: unknown }).body = body;
        const model = (body as { model?: unknown } | null)?.model;
        if (typeof model === 'string') this.seen[this.seen.length - 1]!.model = model;
        next();
      } catch (err) {
        next(err);
      }
    });
  };

  /** Resolves once the upstream has served this user (finished generating), whether or not anyone still listens. */
  whenServed(userId: string): Promise<void> {
    if (this.served.has(userId)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.set(userId, [...(this.waiters.get(userId) ?? []), resolve]));
  }

  private readonly waiters = new Map<string, Array<() => void>>();

  private readonly chat = (req: Request, res: Response): void => {
    // `X-Test-Generation-Ms`: a slow completion. Like a provider, it is generated (and billed) to the end even
    // when the caller hangs up meanwhile.
    const generationMs = Number(req.headers['x-test-generation-ms'] ?? 0);
    if (generationMs > 0) {
      setTimeout(() => this.complete(req, res), generationMs);
      return;
    }
    this.complete(req, res);
  };

  private complete(req: Request, res: Response): void {
    const body = ((req as Request & { body?: unknown }).body ?? {}) as Record<string, unknown>;
    const model = typeof body.model === 'string' ? body.model : 'gpt-4o';
    const prompt = promptTokensFor(body);
    const userId = typeof req.headers['x-user-id'] === 'string' ? req.headers['x-user-id'] : '(anonymous)';
    const served = this.servedTo(userId);
    this.served.set(userId, {
      calls: served.calls + 1,
      inputTokens: served.inputTokens + prompt,
      outputTokens: served.outputTokens + COMPLETION_TOKENS,
      models: [...served.models, model],
    });
    for (const resolve of this.waiters.get(userId) ?? []) resolve();
    this.waiters.delete(userId);
    if (res.destroyed) return;
    const usage = {
      prompt_tokens: prompt,
      completion_tokens: COMPLETION_TOKENS,
      total_tokens: prompt + COMPLETION_TOKENS,
    };
    const coding = responseCoding(req.headers['accept-encoding']);
    const id = 'chatcmpl-lenient';
    let text: string;
    let contentType: string;
    if (laxTrue(body.stream)) {
      const includeUsage = laxTrue(
        (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage,
      );
      const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model, choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`;
      text =
        chunk([{ index: 0, delta: { role: 'assistant', content: 'lenient' }, finish_reason: null }]) +
        chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]) +
        (includeUsage ? chunk([], { usage }) : '') +
        'data: [DONE]\n\n';
      contentType = 'text/event-stream; charset=utf-8';
    } else {
      text = JSON.stringify({
        id,
        object: 'chat.completion',
        created: 1,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: 'lenient' }, finish_reason: 'stop' }],
        usage,
      });
      contentType = 'application/json';
    }
    const encoded = encodeContent(Buffer.from(text, 'utf8'), coding);
    const headers: Record<string, string | number> = {
      'content-type': contentType,
      'content-length': encoded.length,
    };
    if (coding !== 'identity') headers['content-encoding'] = coding;
    res.writeHead(200, headers);
    res.end(encoded);
  }
}
