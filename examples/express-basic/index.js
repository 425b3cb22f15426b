// A small Express API metered by Tollgate: copy this file into your project and adapt the plans.
// Needs: npm install express ioredis @tollgate/core @tollgate/redis @tollgate/express
'use strict';
const express = require('express');
const Redis = require('ioredis');
const { loadConfig, MemoryStore, QuotaExceededError } = require('@tollgate/core');
const { RedisStore, requestPathRedisOptions } = require('@tollgate/redis');
const { trackUsage } = require('@tollgate/express');

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

function sendProblem(res, err) {
  if (err.retryAfter !== null) res.set('Retry-After', String(err.retryAfter));
  res.status(err.status).type('application/problem+json').send(JSON.stringify(err.problem));
}

function createApp({ store = createStore(), logger = console, ...options } = {}) {
  const app = express();
  const metering = trackUsage({
    store,
    config,
    logger,
    onThreshold: (e) =>
      logger.warn(e, `${e.tenantId ?? e.userId} reached ${e.threshold}% of ${e.meter}/${e.period}`),
    ...options,
  });
  app.use(metering); // meters every /api request
  app.use(express.json());

  app.get('/healthz', (_req, res) => {
    res.send('ok');
  });
  app.get('/readyz', (_req, res) => {
    const health = metering.tollgate.health();
    res.status(health.storeAvailable ? 200 : 503).json(health);
  });

  app.get('/api/hello', (req, res) => {
    res.json({ hello: req.usage.userId ?? 'anonymous' });
  });

  // A model call: hold an estimate first (so concurrent calls cannot overspend), then record what it used.
  app.post('/api/chat', async (req, res, next) => {
    try {
      await req.usage.reserve({ tokens: 2000 });
    } catch (err) {
      if (err instanceof QuotaExceededError) return sendProblem(res, err);
      return next(err);
    }
    const prompt = String((req.body && req.body.prompt) || '');
    const usage = { prompt_tokens: Math.ceil(prompt.length / 4), completion_tokens: 42 };
    req.usage.record('input_tokens', usage.prompt_tokens, { model: 'gpt-4o' });
    req.usage.record('output_tokens', usage.completion_tokens, { model: 'gpt-4o' });
    res.json({ model: 'gpt-4o', reply: 'Hello from the demo model.', usage });
  });

  // The caller's quotas right now, from the counters.
  app.get('/api/quota', async (req, res, next) => {
    try {
      const { tenantId, userId, plan } = req.usage;
      res.json(await metering.tollgate.status({ tenantId, userId, plan }));
    } catch (err) {
      next(err);
    }
  });

  return { app, metering };
}

if (require.main === module) {
  const { app } = createApp({ store: createStore({ url: process.env.REDIS_URL }) });
  const port = Number(process.env.PORT || 3000);
  app.listen(port, '127.0.0.1', () => {
    console.log(`listening on http://127.0.0.1:${port}`);
    console.log(
      `try: curl -i -H 'x-tenant-id: acme' -H 'x-user-id: alice' http://127.0.0.1:${port}/api/hello`,
    );
  });
}

module.exports = { createApp, createStore, config };
