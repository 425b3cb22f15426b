// The Express example app works as its README says, on a MemoryStore and on a real Redis.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { MemoryStore, type CounterStore } from '@tollgate/core';
import { REDIS_URL, uniquePrefix } from '../../../test-support/services';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createApp, createStore } = require('../index.js');

const quiet = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function serve(store: CounterStore) {
  const { app, metering } = createApp({ store, logger: quiet, storeTimeoutMs: 5000 });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await metering.close();
    },
  };
}

function exampleBehaviour(
  name: string,
  makeStore: () => Promise<{ store: CounterStore; done: () => Promise<void> }>,
) {
  describe(`examples/express-basic on ${name}`, () => {
    it('meters /api/hello with RateLimit headers and leaves anonymous requests unmetered', async () => {
      const { store, done } = await makeStore();
      const app = await serve(store);
      try {
        const r = await fetch(`${app.url}/api/hello`, {
          headers: { 'x-tenant-id': 'acme', 'x-user-id': 'alice' },
        });
        expect(await r.json()).toEqual({ hello: 'alice' });
        expect(r.headers.get('ratelimit-policy')).toBe('"tenant-requests-minute";q=60;w=60');
        expect(r.headers.get('ratelimit')).toMatch(/^"tenant-requests-minute";r=59;t=\d+$/);
        const anonymous = await fetch(`${app.url}/api/hello`);
        expect(await anonymous.json()).toEqual({ hello: 'anonymous' });
        expect(anonymous.headers.get('ratelimit')).toBeNull();
        expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
      } finally {
        await app.close();
        await done();
      }
    });

    it('records chat tokens and shows them in /api/quota', async () => {
      const { store, done } = await makeStore();
      const app = await serve(store);
      const headers = { 'x-tenant-id': 'acme-chat', 'content-type': 'application/json' };
      try {
        const r = await fetch(`${app.url}/api/chat`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ prompt: 'x'.repeat(400) }),
        });
        expect(await r.json()).toMatchObject({ usage: { prompt_tokens: 100, completion_tokens: 42 } });
        let tokens = 0;
        for (let i = 0; i < 100 && tokens !== 142; i++) {
          await sleep(20);
          const quota = await (await fetch(`${app.url}/api/quota`, { headers })).json();
          tokens = quota.quotas.tokens.day.used;
        }
        expect(tokens).toBe(142);
      } finally {
        await app.close();
        await done();
      }
    });

    it('answers 429 problem+json once the per-minute limit is used up', async () => {
      const { store, done } = await makeStore();
      const app = await serve(store);
      const headers = { 'x-tenant-id': 'acme-busy' };
      // 61 requests must land in one calendar minute.
      const toNextMinute = 60_000 - (Date.now() % 60_000);
      if (toNextMinute < 5000) await sleep(toNextMinute + 50);
      try {
        const statuses = [];
        for (let i = 0; i < 61; i++) statuses.push((await fetch(`${app.url}/api/hello`, { headers })).status);
        expect(statuses.filter((s) => s === 200).length).toBe(60);
        const last = await fetch(`${app.url}/api/hello`, { headers });
        expect(last.status).toBe(429);
        expect(last.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(Number(last.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(await last.json()).toMatchObject({ meter: 'requests', period: 'minute', limit: 60, used: 60 });
      } finally {
        await app.close();
        await done();
      }
    });
  });
}

exampleBehaviour('MemoryStore', async () => {
  const store = new MemoryStore();
  return { store, done: () => store.close() };
});

exampleBehaviour('RedisStore', async () => {
  const prefix = uniquePrefix('example-express');
  const store = createStore({ url: REDIS_URL, prefix });
  const client = store.client as Redis;
  if (client.status !== 'ready') await new Promise((r) => client.once('ready', r));
  return {
    store,
    done: async () => {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await client.unlink(...keys);
      } while (cursor !== '0');
      client.disconnect();
    },
  };
});
