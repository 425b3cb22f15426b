// The Express harness of the behavioural suite (Express 4 and 5 share one app builder).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type express from 'express';
import { QuotaExceededError } from '@tollgate/core';
import type { TrackUsageOptions } from '@tollgate/http';
import { trackUsage } from '@tollgate/express';
import type { AppHarness, RunningApp } from '@tollgate/http/testing';

type ExpressModule = typeof express;

export function expressHarness(name: string, expressModule: ExpressModule): AppHarness {
  return {
    name,
    async start(options, extras = {}): Promise<RunningApp> {
      const handled: string[] = [];
      const app = expressModule();
      const mw = trackUsage(options as TrackUsageOptions<express.Request>);
      app.use(mw);
      if (extras.mountTwice) app.use('/api', mw);
      app.use(expressModule.json());
      app.get('/health', (_req, res) => {
        res.send('ok');
      });
      app.get('/apix', (_req, res) => {
        res.send('not metered');
      });
      app.get('/api/hello', (_req, res) => {
        handled.push('hello');
        res.json({ hello: 'world' });
      });
      app.post('/api/chat', (req, res) => {
        handled.push('chat');
        const { input, output, model } = req.body as { input: number; output: number; model: string };
        req.usage.record('input_tokens', input, { model });
        req.usage.record('output_tokens', output, { model });
        res.json({ ok: true });
      });
      app.get('/api/fail', (_req, res) => {
        handled.push('fail');
        res.status(500).json({ error: 'boom' });
      });
      app.get('/api/slow', (req, res) => {
        handled.push('slow');
        setTimeout(() => res.json({ slow: true }), Number(req.query.ms));
      });
      app.get('/api/stream', (_req, res) => {
        handled.push('stream');
        res.write('aaaa');
        res.write('bbbb');
        res.end('cccc');
      });
      app.get('/api/record-and-hang', (req, res) => {
        req.usage.record('output_tokens', 50, { model: 'gpt-4o' });
        handled.push('record-and-hang');
        const timer = setTimeout(() => res.json({ late: true }), 10_000);
        res.on('close', () => clearTimeout(timer));
      });
      app.get('/api/reserve', (req, res, next) => {
        handled.push('reserve');
        req.usage
          .reserve({ tokens: Number(req.query.tokens) })
          .then(() => {
            req.usage.record('input_tokens', Number(req.query.use), { model: 'demo-model' });
            res.json({ ok: true });
          })
          .catch((err: unknown) => {
            if (!(err instanceof QuotaExceededError)) return next(err);
            res.status(err.status).type('application/problem+json').send(JSON.stringify(err.problem));
          });
      });
      app.get('/api/late', (req, res) => {
        handled.push('late');
        res.json({ ok: true });
        setTimeout(() => req.usage.record('output_tokens', 7, { model: 'gpt-4o' }), 20);
      });
      const server: Server = await new Promise((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
      const { port } = server.address() as AddressInfo;
      return {
        url: `http://127.0.0.1:${port}`,
        tollgate: mw.tollgate,
        handled,
        close: async () => {
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
          await mw.close();
        },
      };
    },
  };
}
