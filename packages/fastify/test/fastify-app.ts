// The Fastify harness of the behavioural suite: the same routes as the Express one, behind the plugin.
import { Readable } from 'node:stream';
import Fastify from 'fastify';
import { QuotaExceededError } from '@tollgate/core';
import { tollgate, type TollgateFastifyOptions } from '../src';
import type { AppHarness, RunningApp } from '@tollgate/http/testing';

export const fastifyHarness: AppHarness = {
  name: 'Fastify 5',
  async start(options, extras = {}): Promise<RunningApp> {
    const handled: string[] = [];
    const app = Fastify();
    await app.register(tollgate, options as TollgateFastifyOptions);
    if (extras.mountTwice) await app.register(tollgate, options as TollgateFastifyOptions);
    app.get('/health', async () => 'ok');
    app.get('/apix', async () => 'not metered');
    app.get('/api/hello', async () => {
      handled.push('hello');
      return { hello: 'world' };
    });
    app.post('/api/chat', async (request) => {
      handled.push('chat');
      const { input, output, model } = request.body as { input: number; output: number; model: string };
      request.usage.record('input_tokens', input, { model });
      request.usage.record('output_tokens', output, { model });
      return { ok: true };
    });
    app.get('/api/fail', async (_request, reply) => {
      handled.push('fail');
      reply.code(500);
      return { error: 'boom' };
    });
    app.get('/api/slow', async (request) => {
      handled.push('slow');
      await new Promise((r) => setTimeout(r, Number((request.query as { ms: string }).ms)));
      return { slow: true };
    });
    app.get('/api/stream', (_request, reply) => {
      handled.push('stream');
      reply.send(Readable.from(['aaaa', 'bbbb', 'cccc']));
    });
    app.get('/api/record-and-hang', (request, reply) => {
      request.usage.record('output_tokens', 50, { model: 'gpt-4o' });
      handled.push('record-and-hang');
      const timer = setTimeout(() => reply.send({ late: true }), 10_000);
      reply.raw.on('close', () => clearTimeout(timer));
    });
    app.get('/api/reserve', async (request, reply) => {
      handled.push('reserve');
      const q = request.query as { tokens: string; use: string };
      try {
        await request.usage.reserve({ tokens: Number(q.tokens) });
      } catch (err) {
        if (!(err instanceof QuotaExceededError)) throw err;
        reply.code(err.status).header('content-type', 'application/problem+json');
        return JSON.stringify(err.problem);
      }
      request.usage.record('input_tokens', Number(q.use), { model: 'demo-model' });
      return { ok: true };
    });
    app.get('/api/late', async (request) => {
      handled.push('late');
      setTimeout(() => request.usage.record('output_tokens', 7, { model: 'gpt-4o' }), 20);
      return { ok: true };
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      url,
      tollgate: app.tollgate,
      handled,
      close: () => app.close(),
    };
  },
};
