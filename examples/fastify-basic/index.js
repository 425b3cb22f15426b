// A small Fastify API metered by Tollgate: copy this file into your project and adapt the plans.
// Needs: npm install fastify ioredis @tollgate/core @tollgate/redis @tollgate/fastify
'use strict';
const Fastify = require('fastify');
const Redis = require('ioredis');
const { loadConfig, MemoryStore, QuotaExceededError } = require('@tollgate/core');
const { RedisStore, requestPathRedisOptions } = require('@tollgate/redis');
const { tollgate } = require('@tollgate/fastify');

/** Plans and prices; in a real app usually `loadConfig('tollgate.yaml')`. */
const config = loadConfig({
  subject: 'tenant',
  defaultPlan: 'free',
  warnAt: [80, 100],
  plans: {
    free: { limits: { requests: { minute: 60, day: 1000 }, tokens: { day: 10000 } } },
    pro: { limits: { requests: { day: -1 }, tokens: { day: 1000000 } } },
  },
  pricing: { 'gpt-4o': { input: '2.50', output: '10.00' } },
});

/** Redis when a URL is given (every instance of the app shares the counters), else in process. */
function createStore({ url, prefix } = {}) {
  if (!url) return new MemoryStore();
  // Tollgate's recommended request-path options: no offline queue, no retries, auto-pipelining.
  const client = new Redis(url, requestPathRedisOptions());
  return new RedisStore({ client, prefix });
}

async function buildApp({ store = createStore(), ...options } = {}) {
  const app = Fastify({ logger: options.logger === undefined });
  await app.register(tollgate, {
    store,
    config,
    logger: options.logger ?? app.log,
    onThreshold: (e) =>
      app.log.warn(e, `${e.tenantId ?? e.userId} reached ${e.threshold}% of ${e.meter}/${e.period}`),
    ...options,
  });

  app.get('/healthz', async () => 'ok');
  app.get('/readyz', async (_request, reply) => {
    const health = app.tollgate.health();
    reply.code(health.storeAvailable ? 200 : 503);
    return health;
  });

  app.get('/api/hello', async (request) => ({ hello: request.usage.userId ?? 'anonymous' }));

  // A model call: hold an estimate first (so concurrent calls cannot overspend), then record what it used.
  app.post('/api/chat', async (request, reply) => {
    try {
      await request.usage.reserve({ tokens: 2000 });
    } catch (err) {
      if (!(err instanceof QuotaExceededError)) throw err;
      if (err.retryAfter !== null) reply.header('Retry-After', String(err.retryAfter));
      reply.code(err.status).header('content-type', 'application/problem+json');
      return JSON.stringify(err.problem);
    }
    const prompt = String((request.body && request.body.prompt) || '');
    const usage = { prompt_tokens: Math.ceil(prompt.length / 4), completion_tokens: 42 };
    request.usage.record('input_tokens', usage.prompt_tokens, { model: 'gpt-4o' });
    request.usage.record('output_tokens', usage.completion_tokens, { model: 'gpt-4o' });
    return { model: 'gpt-4o', reply: 'Hello from the demo model.', usage };
  });

  // The caller's quotas right now, from the counters.
  app.get('/api/quota', async (request) => {
    const { tenantId, userId, plan } = request.usage;
    return app.tollgate.status({ tenantId, userId, plan });
  });

  return app;
}

if (require.main === module) {
  buildApp({ store: createStore({ url: process.env.REDIS_URL }) })
    .then((app) => app.listen({ port: Number(process.env.PORT || 3000), host: '127.0.0.1' }))
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}

module.exports = { buildApp, createStore, config };
