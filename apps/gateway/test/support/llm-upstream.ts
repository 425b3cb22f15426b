// A test upstream emulating the OpenAI and Anthropic HTTP APIs (JSON and SSE), recording what it received and reported.
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

export interface ReportedUsage {
  model: string;
  input: number;
  cacheRead: number;
  cacheWrite: number;
  output: number;
}

/** Providers answer with a dated model name; the gateway must price it as the undated key. */
const DATED: Record<string, string> = {
  'gpt-4o': 'gpt-4o-2024-08-06',
  'gpt-4o-mini': 'gpt-4o-mini-2024-07-18',
  'claude-sonnet-4': 'claude-sonnet-4-20250514',
};

function words(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `w${i}`);
}

/** A promise with its resolver, to hold a stream half-way until a test lets it go. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export class LlmUpstream {
  readonly received: Received[] = [];
  readonly reported: ReportedUsage[] = [];
  /** Set to hold every stream after its first chunk until resolved. */
  hold: Promise<void> | null = null;
  /** Resolves each time a stream finished writing. */
  onStreamEnd: (() => void) | null = null;
  /** Called when a stream's connection closed before the stream was finished (the gateway dropped it). */
  onStreamAbandoned: (() => void) | null = null;
  /** Set to send JSON answers in two halves, the second once this resolves. */
  holdJson: Promise<void> | null = null;
  /** Called when a JSON answer was written completely. */
  onJsonEnd: (() => void) | null = null;
  /** Per-chunk pause in streams (ms). */
  chunkDelayMs = 0;
  private server: http.Server | null = null;
  url = '';

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  last(): Received {
    return this.received[this.received.length - 1]!;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    this.received.push({
      method: req.method!,
      url: req.url!,
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body,
    });
    const path = req.url!.split('?')[0]!;
    try {
      const forced = Number(req.headers['x-test-status'] ?? 0);
      if (forced >= 400) {
        res.writeHead(forced, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `forced ${forced}`, type: 'server_error' } }));
        return;
      }
      if (path.endsWith(':generateContent')) return this.gemini(path, JSON.parse(body), res);
      if (path.endsWith('/chat/completions') && req.headers['x-test-gzip'] === '1')
        return this.gzipChat(JSON.parse(body), res);
      if (path.endsWith('/chat/completions')) return await this.openai(JSON.parse(body), res);
      if (path.endsWith('/messages')) return await this.anthropic(JSON.parse(body), res);
      if (path.endsWith('/slow')) {
        await new Promise((r) =>
          setTimeout(r, Number(new URL(req.url!, 'http://x').searchParams.get('ms') ?? 2000)),
        );
        if (!res.destroyed) res.end('late');
        return;
      }
      if (path.endsWith('/cut') || path.endsWith('/stall')) {
        // A success that breaks off: the connection is reset (/cut), or the body stops coming (/stall).
        const status = Number(new URL(req.url!, 'http://x').searchParams.get('status') ?? 200);
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.write('partial');
        if (path.endsWith('/cut')) setTimeout(() => res.socket?.destroy(), 50);
        return;
      }
      if (path.endsWith('/fail')) {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"upstream broke"}');
        return;
      }
      if (path.endsWith('/hop')) {
        res.writeHead(200, {
          'content-type': 'text/plain',
          connection: 'x-secret-hop, keep-alive',
          'x-secret-hop': 'must not pass',
          'keep-alive': 'timeout=5',
          'x-kept': 'yes',
        });
        res.end('hop');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, path: req.url, user: req.headers['x-user-id'] ?? null }));
    } catch (err) {
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: String(err) }));
    }
  }

  private usageFor(model: string, body: Record<string, unknown>, out: number): ReportedUsage {
    // Deterministic and distinct per request: the prompt size decides the numbers.
    const prompt = JSON.stringify(body.messages ?? '').length;
    const u = { model, input: prompt + 7, cacheRead: Math.floor(prompt / 3), cacheWrite: 0, output: out };
    return u;
  }

  private async openai(body: Record<string, unknown>, res: http.ServerResponse): Promise<void> {
    const model = DATED[String(body.model)] ?? String(body.model);
    const n = typeof body.max_tokens === 'number' ? Math.min(body.max_tokens, 12) : 12;
    const reply = words(n);
    const u = this.usageFor(model, body, reply.length);
    const usage = {
      prompt_tokens: u.input + u.cacheRead,
      completion_tokens: u.output,
      total_tokens: u.input + u.cacheRead + u.output,
      prompt_tokens_details: { cached_tokens: u.cacheRead, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    };
    const id = 'chatcmpl-test';
    if (body.stream !== true) {
      this.reported.push(u);
      res.writeHead(200, { 'content-type': 'application/json' });
      const json = JSON.stringify({
        id,
        object: 'chat.completion',
        created: 1,
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: reply.join(' '), refusal: null },
            finish_reason: 'stop',
            logprobs: null,
          },
        ],
        usage,
      });
      if (this.holdJson) {
        res.write(json.slice(0, 40));
        await this.holdJson;
        res.end(json.slice(40));
      } else res.end(json);
      this.onJsonEnd?.();
      return;
    }
    const include = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    const send = (choices: unknown[], extra: Record<string, unknown> = {}) => {
      const chunk: Record<string, unknown> = {
        id,
        object: 'chat.completion.chunk',
        created: 1,
        model,
        choices,
        ...extra,
      };
      if (include && !('usage' in extra)) chunk.usage = null;
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    };
    let gone = false;
    res.on('close', () => {
      gone = true;
      if (!res.writableFinished) this.onStreamAbandoned?.();
    });
    send([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
    for (let i = 0; i < reply.length && !gone; i++) {
      if (i === 1 && this.hold) await this.hold;
      if (this.chunkDelayMs) await new Promise((r) => setTimeout(r, this.chunkDelayMs));
      send([{ index: 0, delta: { content: (i ? ' ' : '') + reply[i] }, finish_reason: null }]);
    }
    if (gone) return;
    send([{ index: 0, delta: {}, finish_reason: 'stop' }]);
    if (include) {
      this.reported.push(u);
      send([], { usage });
    }
    res.end('data: [DONE]\n\n');
    this.onStreamEnd?.();
  }

  private async anthropic(body: Record<string, unknown>, res: http.ServerResponse): Promise<void> {
    const model = DATED[String(body.model)] ?? String(body.model);
    const n = typeof body.max_tokens === 'number' ? Math.min(body.max_tokens, 10) : 10;
    const reply = words(n);
    const base = this.usageFor(model, body, reply.length);
    const u = { ...base, cacheWrite: 11 };
    const id = 'msg_test';
    if (body.stream !== true) {
      this.reported.push(u);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id,
          type: 'message',
          role: 'assistant',
          model,
          content: [{ type: 'text', text: reply.join(' ') }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: {
            input_tokens: u.input,
            cache_read_input_tokens: u.cacheRead,
            cache_creation_input_tokens: u.cacheWrite,
            output_tokens: u.output,
          },
        }),
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const event = (name: string, data: Record<string, unknown>) =>
      res.write(`event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`);
    let gone = false;
    res.on('close', () => (gone = true));
    event('message_start', {
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        // message_start carries the input side and a provisional output count.
        usage: {
          input_tokens: u.input,
          cache_read_input_tokens: u.cacheRead,
          cache_creation_input_tokens: u.cacheWrite,
          output_tokens: 1,
        },
      },
    });
    event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
    for (let i = 0; i < reply.length && !gone; i++) {
      if (i === 1 && this.hold) await this.hold;
      if (this.chunkDelayMs) await new Promise((r) => setTimeout(r, this.chunkDelayMs));
      event('content_block_delta', {
        index: 0,
        delta: { type: 'text_delta', text: (i ? ' ' : '') + reply[i] },
      });
    }
    if (gone) return;
    event('content_block_stop', { index: 0 });
    this.reported.push(u);
    // Cumulative: repeats the input side and gives the final output count.
    event('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: {
        input_tokens: u.input,
        cache_read_input_tokens: u.cacheRead,
        cache_creation_input_tokens: u.cacheWrite,
        output_tokens: u.output,
      },
    });
    event('message_stop', {});
    res.end();
    this.onStreamEnd?.();
  }

  private gemini(path: string, body: Record<string, unknown>, res: http.ServerResponse): void {
    const model = /models\/([^:]+):/.exec(path)![1]!;
    const prompt = JSON.stringify(body.contents ?? '').length;
    // A versioned name the price lookup strips (SPEC §3); Gemini's own "-001" style is not one of its suffixes.
    const u = { model: `${model}-latest`, input: prompt, cacheRead: 4, cacheWrite: 0, output: 9 };
    this.reported.push(u);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        candidates: [
          { content: { parts: [{ text: 'gemini says hi' }], role: 'model' }, finishReason: 'STOP' },
        ],
        usageMetadata: {
          promptTokenCount: u.input + u.cacheRead,
          cachedContentTokenCount: u.cacheRead,
          candidatesTokenCount: u.output,
          totalTokenCount: u.input + u.cacheRead + u.output,
        },
        modelVersion: u.model,
      }),
    );
  }

  private gzipChat(body: Record<string, unknown>, res: http.ServerResponse): void {
    const model = DATED[String(body.model)] ?? String(body.model);
    const u = this.usageFor(model, body, 5);
    this.reported.push(u);
    const json = JSON.stringify({
      id: 'chatcmpl-gz',
      object: 'chat.completion',
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: 'zipped' }, finish_reason: 'stop' }],
      usage: {
        prompt_tokens: u.input + u.cacheRead,
        completion_tokens: u.output,
        prompt_tokens_details: { cached_tokens: u.cacheRead },
      },
    });
    const zipped = gzipSync(json);
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'content-length': zipped.length,
    });
    res.end(zipped);
  }
}
