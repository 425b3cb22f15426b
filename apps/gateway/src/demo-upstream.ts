// The built-in demo upstream: an OpenAI-compatible chat endpoint (JSON and SSE) and a small JSON API.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type Request, type Response } from 'express';

export interface DemoUpstreamOptions {
  /** Pause between streamed chunks, in ms (shows streaming in a terminal). Defaults to 30. */
  chunkDelayMs?: number;
}

/** Whitespace-separated words: the demo's "tokenizer", so usage numbers are easy to check by hand. */
function words(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

function promptText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  return messages
    .map((m) => {
      const content = (m as { content?: unknown } | null)?.content;
      if (typeof content === 'string') return content;
      if (Array.isArray(content)) {
        return content.map((p) => ((p as { text?: unknown })?.text as string | undefined) ?? '').join(' ');
      }
      return '';
    })
    .join('\n');
}

function reply(prompt: string, maxTokens: number | null): string[] {
  const last = words(prompt).slice(-12).join(' ');
  const text = `Hello from the Tollgate demo upstream! You said: "${last}". Every token of this answer is metered.`;
  const out = words(text);
  return maxTokens !== null ? out.slice(0, Math.max(1, maxTokens)) : out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface DemoCompletion {
  id: string;
  created: number;
  model: string;
  answer: string[];
  usage: Record<string, unknown>;
}

/** The answer as an OpenAI chat stream, one word a chunk (`delay` ms apart), usage last when asked for. */
async function streamCompletion(
  res: Response,
  c: DemoCompletion,
  includeUsage: boolean,
  delay: number,
): Promise<void> {
  const { id, created, model, answer, usage } = c;
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  const chunk = (delta: Record<string, unknown>, finish: string | null) => {
    const event: Record<string, unknown> = {
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    };
    if (includeUsage) event.usage = null;
    res.write(`data: ${JSON.stringify(event)}\n\n`);
  };
  let closed = false;
  res.on('close', () => (closed = true));
  chunk({ role: 'assistant', content: '' }, null);
  for (let i = 0; i < answer.length && !closed; i++) {
    if (delay > 0) await sleep(delay);
    chunk({ content: (i === 0 ? '' : ' ') + answer[i] }, null);
  }
  if (closed) return;
  chunk({}, 'stop');
  if (includeUsage) {
    res.write(
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage })}\n\n`,
    );
  }
  res.end('data: [DONE]\n\n');
}

/** POST /api/v1/chat/completions: a JSON answer, or a stream with `stream: true`. */
function chatCompletions(delay: number) {
  return async (req: Request, res: Response): Promise<void> => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (!Array.isArray(body.messages)) {
      res.status(400).json({ error: { message: 'messages is required', type: 'invalid_request_error' } });
      return;
    }
    const model = typeof body.model === 'string' ? body.model : 'demo-model';
    const maxTokens = typeof body.max_tokens === 'number' ? body.max_tokens : null;
    const prompt = promptText(body.messages);
    const answer = reply(prompt, maxTokens);
    const usage = {
      prompt_tokens: Math.max(1, words(prompt).length),
      completion_tokens: answer.length,
      total_tokens: Math.max(1, words(prompt).length) + answer.length,
      prompt_tokens_details: { cached_tokens: 0 },
    };
    const id = `chatcmpl-demo${Date.now().toString(36)}`;
    const created = Math.floor(Date.now() / 1000);
    if (body.stream === true) {
      const includeUsage =
        (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
      await streamCompletion(res, { id, created, model, answer, usage }, includeUsage, delay);
      return;
    }
    res.json({
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [
        { index: 0, message: { role: 'assistant', content: answer.join(' ') }, finish_reason: 'stop' },
      ],
      usage,
    });
  };
}

export function createDemoUpstream(options: DemoUpstreamOptions = {}): Express {
  const delay = options.chunkDelayMs ?? 30;
  const app = express();
  app.disable('x-powered-by');

  app.get('/api/hello', (req: Request, res: Response) => {
    res.json({
      message: 'Hello from the Tollgate demo upstream',
      user: req.get('x-user-id') ?? null,
      tenant: req.get('x-tenant-id') ?? null,
      tier: req.get('x-user-tier') ?? null,
    });
  });
  app.post('/api/v1/chat/completions', express.json({ limit: '1mb' }), chatCompletions(delay));
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'not found' });
  });
  return app;
}

export interface RunningUpstream {
  url: URL;
  server: http.Server;
  close(): Promise<void>;
}

/** Starts the demo upstream on `port` (0: any free port) of `host`. */
export function startDemoUpstream(
  options: DemoUpstreamOptions & { port?: number; host?: string } = {},
): Promise<RunningUpstream> {
  const server = http.createServer(createDemoUpstream(options));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      const host = options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1';
      resolve({
        url: new URL(`http://${host}:${port}`),
        server,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}
