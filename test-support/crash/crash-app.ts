// A metered app for the crash tests (Express or Fastify by CRASH_APP), on RedisStore, on a fixed PORT; tells the parent
// (IPC) when it listens. Routes: GET /api/get (JSON), GET /api/llm?a=&b= (records a input and b output tokens, JSON),
// GET /api/stream?a=&b= (the same, as server-sent events ending in `data: [DONE]`). SIGTERM: a graceful stop.
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { parseConfig } from '@tollgate/core';
import type { RequestUsage } from '@tollgate/http';
import { RedisStore } from '@tollgate/redis';

export const CRASH_CONFIG = {
  subject: 'tenant' as const,
  timezone: 'UTC',
  defaultPlan: 'big',
  plans: { big: { limits: { requests: { day: 1_000_000_000 }, tokens: { day: 1_000_000_000_000 } } } },
  pricing: { 'crash-model': { input: '1.00', output: '2.00' } },
};

/** Padding so a body takes more than one write to arrive. */
const PAD = 'x'.repeat(2048);

function amounts(query: unknown): { a: number; b: number } {
  const q = query as { a?: string; b?: string };
  return { a: Number(q.a ?? 0), b: Number(q.b ?? 0) };
}

function recordTokens(usage: RequestUsage, a: number, b: number): void {
  usage.record('input_tokens', a, { model: 'crash-model' });
  usage.record('output_tokens', b, { model: 'crash-model' });
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT);
  const client = new Redis(process.env.REDIS_URL!, { enableAutoPipelining: true });
  const store = new RedisStore({ client, prefix: process.env.REDIS_PREFIX! });
  const durability = (process.env.DURABILITY ?? 'delivered') as 'delivered' | 'batched';
  const options = {
    store,
    config: parseConfig(CRASH_CONFIG),
    durability,
    logger: { warn: () => undefined, error: () => undefined },
  };
  let stop: () => Promise<void>;
  if (process.env.CRASH_APP === 'fastify') {
    const { default: Fastify } = await import('fastify');
    const { tollgate } = await import('@tollgate/fastify');
    const app = Fastify();
    await app.register(tollgate, options);
    app.get('/api/get', async () => ({ ok: true, pad: PAD }));
    app.get('/api/llm', async (request) => {
      const { a, b } = amounts(request.query);
      recordTokens(request.usage, a, b);
      return { a, b, pad: PAD };
    });
    app.get('/api/stream', (request, reply) => {
      const { a, b } = amounts(request.query);
      const body = new PassThrough();
      reply.header('content-type', 'text/event-stream').send(body);
      body.write(`data: ${PAD}\n\n`);
      setTimeout(() => {
        recordTokens(request.usage, a, b);
        body.end(`data: {"a":${a},"b":${b}}\n\ndata: [DONE]\n\n`);
      }, 2);
    });
    await app.listen({ port, host: '127.0.0.1' });
    stop = () => app.close();
  } else {
    const { default: express } = await import('express');
    const { trackUsage } = await import('@tollgate/express');
    const mw = trackUsage(options);
    const app = express();
    app.use(mw);
    app.get('/api/get', (_req, res) => {
      res.json({ ok: true, pad: PAD });
    });
    app.get('/api/llm', (req, res) => {
      const { a, b } = amounts(req.query);
      recordTokens(req.usage, a, b);
      res.json({ a, b, pad: PAD });
    });
    app.get('/api/stream', (req, res) => {
      const { a, b } = amounts(req.query);
      res.setHeader('content-type', 'text/event-stream');
      res.write(`data: ${PAD}\n\n`);
      setTimeout(() => {
        recordTokens(req.usage, a, b);
        res.end(`data: {"a":${a},"b":${b}}\n\ndata: [DONE]\n\n`);
      }, 2);
    });
    const server = app.listen(port, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    stop = async () => {
      await new Promise((r) => server.close(r));
      await mw.close();
    };
  }
  process.send?.({ at: 'ready' });
  process.on('SIGTERM', () => {
    void stop()
      .then(() => client.quit())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  });
}

main().catch((err: Error) => {
  process.stderr.write(`crash-app: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
