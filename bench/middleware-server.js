// One server variant for bench/middleware-run.js: bare Express/Fastify, + Tollgate (MemoryStore or RedisStore), or
// + express-rate-limit with rate-limit-redis. Run by the orchestrator in its own process; prints "READY <port>".
//
// Usage: node bench/middleware-server.js <express|fastify> <bare|headers|deferred|memory|redis|batched|erl> [redisUrl]
// `redis` is RedisStore with the default `durability: 'delivered'`, `batched` the same with `durability: 'batched'`.
// Tollgate is required by relative path on purpose: `middleware-run --before DIR` runs DIR's copy of this file, which
// must load DIR's packages (a worktree without node_modules would otherwise resolve @tollgate/* elsewhere).
'use strict';
const http = require('node:http');

const [framework, variant, redisUrl = 'redis://127.0.0.1:6379'] = process.argv.slice(2);
const prefix = `tgbench:mw:${process.pid}:`;
// BENCH_TG_OPTIONS='{"usageBatchMs":100}' adds trackUsage/plugin options (to compare settings side by side).
const extraOptions = process.env.BENCH_TG_OPTIONS ? JSON.parse(process.env.BENCH_TG_OPTIONS) : {};
// Responses admitted while the store did not answer in time (failed open: counted, not checked).
let degraded = 0;
// Store calls (admissions and usage writes) made so far: store ops per request is how well they are grouped.
let storeOps = 0;

/** What the orchestrator reads around a run: degraded responses, store ops and this process's CPU time (µs). */
function stats() {
  const cpu = process.cpuUsage();
  return { degraded, storeOps, cpuMicros: cpu.user + cpu.system };
}
const tollgateOptions = variant === 'batched' ? { durability: 'batched', ...extraOptions } : extraOptions;
const tollgateVariant = variant === 'memory' || variant === 'redis' || variant === 'batched';

// A real limit (checked on every request) that the benchmark never reaches: 1e9 a minute is out of reach of any run
// here, and, like a real plan's limit, a small integer (V8 turns 1e12, a heap double, into a string at about
// twice the cost: the bench used 1e12 up to run L, see bench/HISTORY.md).
const LIMIT = 1e9;

const config = {
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'bench',
  warnAt: [80, 100],
  plans: { bench: { limits: { requests: { minute: LIMIT, day: LIMIT } } } },
};

// The `headers` variant: SPEC §10's two headers as Tollgate sends them for this config (a remaining count that
// moves with every request, seconds to the minute's reset), set by a middleware that does nothing else.
const POLICY = `"tenant-requests-minute";q=${LIMIT};w=60`;
let served = 0;
function rateLimitValue() {
  served += 1;
  return `"tenant-requests-minute";r=${LIMIT - served};t=${60 - (Math.floor(Date.now() / 1000) % 60)}`;
}

function redisClient() {
  const Redis = require('ioredis');
  // The RedisStore README's recommended options: auto-pipelining, bounded waits, no offline queue.
  return new Redis(redisUrl, {
    enableAutoPipelining: true,
    commandTimeout: 2000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
}

async function ready(client) {
  if (client.status === 'ready') return;
  await new Promise((resolve) => client.once('ready', resolve));
}

async function store() {
  const { MemoryStore } = require('../packages/core/dist');
  if (variant === 'memory') return countOps(new MemoryStore());
  const { RedisStore } = require('../packages/redis/dist');
  const client = redisClient();
  await ready(client);
  return countOps(new RedisStore({ client, prefix }));
}

// Counts store calls for stats(); BENCH_COUNT_OPS=1 also prints them per second.
function countOps(s) {
  let ops = 0;
  const apply = s.apply.bind(s);
  s.apply = (op) => {
    ops += 1;
    storeOps += 1;
    return apply(op);
  };
  // One applyMany is one store call, however many ops it carries (that is the point of it).
  if (typeof s.applyMany === 'function') {
    const applyMany = s.applyMany.bind(s);
    s.applyMany = (many) => {
      ops += 1;
      storeOps += 1;
      return applyMany(many);
    };
  }
  if (process.env.BENCH_COUNT_OPS)
    setInterval(() => {
      if (ops > 0) console.error(`store ops/s ${ops}`);
      ops = 0;
    }, 1000).unref();
  return s;
}

async function expressApp() {
  const express = require('express');
  const app = express();
  // The bare server with one middleware that defers each request to the check phase, as Tollgate's admissions do.
  if (variant === 'deferred') app.use((_req, _res, next) => setImmediate(next));
  if (variant === 'headers') {
    app.use((_req, res, next) => {
      res.setHeader('RateLimit-Policy', POLICY);
      res.setHeader('RateLimit', rateLimitValue());
      next();
    });
  }
  if (tollgateVariant) {
    const { trackUsage } = require('../packages/express/dist');
    app.use(trackUsage({ store: await store(), config, ...tollgateOptions }));
  } else if (variant === 'erl') {
    const { rateLimit } = require('express-rate-limit');
    const { RedisStore } = require('rate-limit-redis');
    const client = redisClient();
    await ready(client);
    app.use(
      '/api',
      rateLimit({
        windowMs: 60_000,
        limit: LIMIT,
        standardHeaders: 'draft-8',
        legacyHeaders: false,
        keyGenerator: (req) => String(req.headers['x-tenant-id']),
        store: new RedisStore({ prefix, sendCommand: (command, ...args) => client.call(command, ...args) }),
      }),
    );
  }
  app.get('/api/hello', (req, res) => {
    if (req.usage?.degraded) degraded += 1;
    res.json({ hello: 'world' });
  });
  app.get('/bench/stats', (_req, res) => {
    res.json(stats());
  });
  const server = http.createServer(app);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server.address().port;
}

async function fastifyApp() {
  const Fastify = require('fastify');
  const app = Fastify();
  if (variant === 'deferred') app.addHook('onRequest', (_request, _reply, done) => setImmediate(done));
  if (variant === 'headers') {
    app.addHook('onRequest', (_request, reply, done) => {
      reply.header('ratelimit-policy', POLICY);
      reply.header('ratelimit', rateLimitValue());
      done();
    });
  }
  if (tollgateVariant) {
    const { tollgate } = require('../packages/fastify/dist');
    await app.register(tollgate, { store: await store(), config, ...tollgateOptions });
  }
  app.get('/api/hello', async (request) => {
    if (request.usage?.degraded) degraded += 1;
    return { hello: 'world' };
  });
  app.get('/bench/stats', async () => stats());
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app.server.address().port;
}

// A clean exit on SIGTERM lets `node --cpu-prof` write its profile.
process.on('SIGTERM', () => process.exit(0));

(framework === 'fastify' ? fastifyApp() : expressApp()).then(
  (port) => process.stdout.write(`READY ${port}\n`),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
