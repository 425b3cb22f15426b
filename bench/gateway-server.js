// One server of the gateway benchmark, in its own process: `upstream`, `bare` (http-proxy-middleware),
// `raw` (the same on bare node:http), `floor` (the least a Node proxy does) or `gateway`.
// Prints "READY <port>" on stdout. Usage: node bench/gateway-server.js <mode> [upstreamUrl] [redisUrl] [databaseUrl] [root]
// `root` (gateway mode): the checkout whose built gateway runs (default this one), to measure before/after in one run.
'use strict';
const http = require('node:http');
const path = require('node:path');

const [mode, upstreamUrl, redisUrl, databaseUrl, root = path.join(__dirname, '..')] = process.argv.slice(2);
const SECRET = 'bench-jwt-secret-0123456789abcdef';

function ready(server) {
  server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
}

/** An OpenAI-style stream: a few content deltas, then the usage chunk `include_usage` asks for, then [DONE]. */
function sse(model) {
  const base = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1, model };
  const chunk = (extra) => `data: ${JSON.stringify({ ...base, ...extra })}\n\n`;
  const delta = (d, finish = null) => chunk({ choices: [{ index: 0, delta: d, finish_reason: finish }] });
  return (
    delta({ role: 'assistant', content: '' }) +
    delta({ content: 'pong ' }) +
    delta({ content: 'pong ' }) +
    delta({ content: 'pong' }) +
    delta({}, 'stop') +
    chunk({ choices: [], usage: { prompt_tokens: 21, completion_tokens: 3, total_tokens: 24 } }) +
    'data: [DONE]\n\n'
  );
}

/** A fast upstream: a small JSON API and an OpenAI-compatible chat endpoint with usage (JSON, or SSE for `stream`). */
function upstream() {
  const hello = JSON.stringify({ message: 'hello', ok: true });
  const server = http.createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(hello) });
      res.end(hello);
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      if (body.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.end(sse(body.model));
        return;
      }
      const out = JSON.stringify({
        id: 'chatcmpl-bench',
        object: 'chat.completion',
        created: 1,
        model: body.model === 'gpt-4o' ? 'gpt-4o-2024-08-06' : body.model,
        choices: [
          { index: 0, message: { role: 'assistant', content: 'pong pong pong' }, finish_reason: 'stop' },
        ],
        usage: {
          prompt_tokens: 21,
          completion_tokens: 3,
          total_tokens: 24,
          prompt_tokens_details: { cached_tokens: 0 },
        },
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
  });
  server.keepAliveTimeout = 65_000;
  ready(server);
}

/** The baseline: Express 5 + http-proxy-middleware with a keep-alive agent, nothing else. */
function bare() {
  const express = require('express');
  const { createProxyMiddleware } = require('http-proxy-middleware');
  const app = express();
  app.use(
    createProxyMiddleware({
      target: upstreamUrl,
      changeOrigin: true,
      agent: new http.Agent({ keepAlive: true, maxFreeSockets: 256 }),
      pathFilter: '/api',
    }),
  );
  ready(http.createServer(app));
}

/** For reference: the same proxy without Express (http-proxy-middleware on node:http), which the gateway's /api path matches. */
function raw() {
  const { createProxyMiddleware } = require('http-proxy-middleware');
  const proxy = createProxyMiddleware({
    target: upstreamUrl,
    changeOrigin: true,
    agent: new http.Agent({ keepAlive: true, maxFreeSockets: 256 }),
    pathFilter: '/api',
  });
  ready(
    http.createServer((req, res) =>
      proxy(req, res, () => {
        res.statusCode = 404;
        res.end();
      }),
    ),
  );
}

// Hop-by-hop headers (RFC 9110 7.6.1) a proxy must not pass on; undici refuses some of them as request headers.
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);
const endToEnd = (headers) => {
  const out = {};
  for (const name in headers) if (!HOP.has(name)) out[name] = headers[name];
  return out;
};

/**
 * The floor: the least a Node proxy does (node:http in front, undici's Pool behind, hop-by-hop headers dropped,
 * bodies streamed), no auth, no metering. What a Node proxy can reach on this machine, for the nginx ratio.
 */
function floor() {
  const { Pool } = require(path.join(path.resolve(root), 'node_modules/undici'));
  const pool = new Pool(upstreamUrl, { connections: 64 });
  ready(
    http.createServer((req, res) => {
      const get = req.method === 'GET' || req.method === 'HEAD';
      pool
        .request({
          method: req.method,
          path: req.url,
          headers: endToEnd(req.headers),
          body: get ? null : req,
        })
        .then(
          (up) => {
            res.writeHead(up.statusCode, endToEnd(up.headers));
            // An upstream cut mid-body cuts the client's copy, not the process.
            up.body.on('error', () => res.destroy());
            up.body.pipe(res);
          },
          () => {
            res.statusCode = 502;
            res.end();
          },
        );
    }),
  );
}

/** The Tollgate gateway from apps/gateway/dist: JWT, identity headers, metering on Redis (token usage for chat). */
async function gateway() {
  const { createGateway, parseEnv } = require(path.join(path.resolve(root), 'apps/gateway/dist'));
  const { parseConfig } = require(path.join(path.resolve(root), 'packages/core/dist'));
  const settings = parseEnv({
    JWT_SECRET: SECRET,
    UPSTREAM_URL: upstreamUrl,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: `tgbench:${process.pid}:`,
    DATABASE_URL: databaseUrl,
    // BENCH_FLUSHER=inline: usage also reaches the ledger (the full product), as in bench/proxy-compare.js.
    FLUSHER: process.env.BENCH_FLUSHER ?? 'off',
    LOG_LEVEL: 'warn',
    // A loaded benchmark machine must not push admissions onto the fail-open path (that would skip Redis).
    STORE_TIMEOUT_MS: '1000',
    PORT: '0',
    HOST: '127.0.0.1',
  });
  // Finite limits, so every admission really checks them (unlimited would too, but this is the common case).
  settings.config = parseConfig({
    plans: { free: { limits: { requests: { day: 1e12 }, tokens: { day: 1e12 } } } },
    pricing: { 'openai/gpt-4o': { input: '2.50', output: '10.00' } },
  });
  const gw = await createGateway({ settings, usageApi: true });
  const url = await gw.listen();
  process.stdout.write(`READY ${url.port}\n`);
}

process.on('SIGTERM', () => process.exit(0));
({ upstream, bare, raw, floor, gateway })[mode]();
