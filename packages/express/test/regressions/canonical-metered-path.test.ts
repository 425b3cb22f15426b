// Regression: the path filter read the raw target, so spellings a router still serves as /api/x (`\` for `/`,
// which Express's url.parse applies when the target has a fragment, and `..` segments a proxy in front
// resolves) ran the handler unmetered: with requireIdentity, an unidentified client got the handler's 200.
import type { AddressInfo } from 'node:net';
import express from 'express';
import Redis from 'ioredis';
import { parseConfig } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';
import { trackUsage } from '@tollgate/express';
import { REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { getTarget } from '@tollgate/http/testing';

describe('trackUsage meters the target as routers read it', () => {
  const client = new Redis(REDIS_URL);
  let url = '';
  let server: ReturnType<ReturnType<typeof express>['listen']>;
  const handled: string[] = [];

  beforeAll(async () => {
    const store = new RedisStore({ client, prefix: uniquePrefix('express-canonical') });
    const config = parseConfig({
      defaultPlan: 'free',
      plans: { free: { limits: { requests: { day: 100 } } } },
    });
    const app = express();
    app.use(trackUsage({ store, config, requireIdentity: true }));
    app.get('/api/x', (req, res) => {
      handled.push(req.url);
      res.json({ ok: true });
    });
    await new Promise<void>((r) => (server = app.listen(0, '127.0.0.1', () => r())));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
    client.disconnect();
  });

  it.each(['/API/x', '/api/x/', '/%61pi/x', '/api\\x#f', '/api\\x', '/a/../api/x', '//api//x', '/api/./x'])(
    'asks %j for an identity before any handler runs',
    async (target) => {
      const before = handled.length;
      const res = await getTarget(url, target);
      expect(res.status).toBe(401);
      expect(handled.slice(before)).toEqual([]);
    },
  );

  it('leaves paths outside /api to the router', async () => {
    expect((await getTarget(url, '/health')).status).toBe(404);
    expect((await getTarget(url, '/apix')).status).toBe(404);
  });
});
