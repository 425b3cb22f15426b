// In-process CPU per request: client, upstream and proxy in one Node process, so CPU time (not req/s) compares
// the Express + http-proxy-middleware proxy, the same without Express, and the gateway (RedisStore, or with
// --memory a MemoryStore, which leaves out the counter store's cost). Starts its own redis-server and a fresh
// database on DATABASE_URL. Run: npm run build, then node bench/gateway-cpu.js [--requests 4000] [--memory]
'use strict';
const { startOwnRedis } = require('./own-redis');
const http = require('node:http');
const express = require('express');
const { createProxyMiddleware } = require('http-proxy-middleware');
const jwt = require('jsonwebtoken');
const { Client } = require('pg');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
};
const N = Number(arg('requests', 4000));
const MEMORY = process.argv.includes('--memory');
const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const SECRET = 'bench-jwt-secret-0123456789abcdef';
const listen = (s) => new Promise((r) => s.listen(0, '127.0.0.1', () => r(s.address().port)));

async function main() {
  const { createGateway, parseEnv } = require('@tollgate/gateway');
  const { parseConfig, MemoryStore } = require('@tollgate/core');
  const redis = await startOwnRedis();
  const dbName = `tg_bench_gwcpu_${process.pid}`;
  const admin = new Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(DATABASE_URL);
  dbUrl.pathname = `/${dbName}`;

  const hello = JSON.stringify({ message: 'hello' });
  const chat = JSON.stringify({
    id: 'c',
    object: 'chat.completion',
    model: 'gpt-4o-2024-08-06',
    choices: [{ index: 0, message: { role: 'assistant', content: 'pong' } }],
    usage: { prompt_tokens: 21, completion_tokens: 3 },
  });
  const up = http.createServer((req, res) => {
    const body = req.method === 'GET' ? hello : chat;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  const target = `http://127.0.0.1:${await listen(up)}`;
  const agent = () => new http.Agent({ keepAlive: true, maxFreeSockets: 256 });
  const app = express();
  app.use(createProxyMiddleware({ target, changeOrigin: true, agent: agent(), pathFilter: '/api' }));
  const bare = await listen(http.createServer(app));
  const rawProxy = createProxyMiddleware({ target, changeOrigin: true, agent: agent(), pathFilter: '/api' });
  const raw = await listen(http.createServer((req, res) => rawProxy(req, res, () => res.end())));
  const settings = parseEnv({
    JWT_SECRET: SECRET,
    UPSTREAM_URL: target,
    REDIS_URL: redis.url,
    DATABASE_URL: dbUrl.toString(),
    FLUSHER: 'off',
    LOG_LEVEL: 'warn',
    STORE_TIMEOUT_MS: '2000',
    PORT: '0',
    HOST: '127.0.0.1',
  });
  settings.config = parseConfig({
    plans: { free: { limits: { requests: { day: 1e12 }, tokens: { day: 1e12 } } } },
    pricing: { 'openai/gpt-4o': { input: '2.50', output: '10.00' } },
  });
  const gw = await createGateway({ settings, ...(MEMORY ? { store: new MemoryStore() } : {}) });
  const gateway = Number((await gw.listen()).port);

  const token = jwt.sign({ sub: 'u', tenant_id: 't', tier: 'free' }, SECRET, { expiresIn: '1h' });
  const client = new http.Agent({ keepAlive: true, maxSockets: 20 });
  const chatBody = JSON.stringify({
    model: 'gpt-4o',
    max_tokens: 16,
    messages: [{ role: 'user', content: 'ping' }],
  });
  const one = (port, kind) =>
    new Promise((resolve, reject) => {
      const post = kind === 'chat';
      const r = http.request(
        {
          host: '127.0.0.1',
          port,
          agent: client,
          method: post ? 'POST' : 'GET',
          path: post ? '/api/v1/chat/completions' : '/api/hello',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        },
        (res) => {
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
          res.resume();
          res.on('end', resolve);
        },
      );
      r.on('error', reject);
      r.end(post ? chatBody : undefined);
    });
  const run = async (port, kind, n) => {
    let i = 0;
    const worker = async () => {
      while (i++ < n) await one(port, kind);
    };
    const c0 = process.cpuUsage();
    await Promise.all(Array.from({ length: 20 }, worker));
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / n;
  };
  const targets = { bare, raw, gateway };
  const results = {};
  for (const kind of ['hello', 'chat']) for (const port of Object.values(targets)) await run(port, kind, 500);
  for (let round = 0; round < 3; round++) {
    for (const kind of ['hello', 'chat']) {
      for (const [name, port] of Object.entries(targets))
        ((results[kind] ??= {})[name] ??= []).push(await run(port, kind, N));
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[1];
  console.log(
    `in-process CPU µs per request (client + proxy + upstream), median of 3 rounds of ${N}, store: ${MEMORY ? 'MemoryStore' : 'RedisStore'}`,
  );
  for (const kind of Object.keys(results)) {
    const r = Object.fromEntries(Object.entries(results[kind]).map(([k, v]) => [k, median(v)]));
    console.log(
      `${kind.padEnd(5)} express+hpm ${r.bare.toFixed(0)}  hpm without express ${r.raw.toFixed(0)}  gateway ${r.gateway.toFixed(0)}` +
        `  (gateway - express+hpm: ${(r.gateway - r.bare).toFixed(0)})`,
    );
  }
  await gw.close();
  up.close();
  await redis.stop();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
