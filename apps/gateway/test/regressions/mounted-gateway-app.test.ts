// Regression: with the gateway's Express app mounted in a bigger app (`outer.use('/gw', gateway.app)`), the /api
// chain ran (canonical target, JWT, LLM body, proxy), but its trackUsage step matched `/api` against originalUrl
// (`/gw/api/...`): nothing was counted, no quota held, and the 530 tokens the upstream served were never recorded.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { METERED_CONFIG, dayCounters, startGateway, token, type RunningGateway } from '../support/kit';
import { RequestLineUpstream, SERVED } from '../support/request-line-upstream';

describe('the gateway app mounted under a path of a bigger app', () => {
  let upstream: RequestLineUpstream;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };
  let server: http.Server;
  let base = '';

  beforeAll(async () => {
    upstream = await new RequestLineUpstream().start();
    db = await createTestDatabase('reg_mounted');
    gw = await startGateway(
      {
        UPSTREAM_URL: upstream.url,
        REDIS_URL,
        REDIS_PREFIX: uniquePrefix('reg-mounted'),
        DATABASE_URL: db.url,
        FLUSHER: 'off',
      },
      { config: METERED_CONFIG },
    );
    const outer = express();
    outer.use('/gw', gw.gateway.app);
    server = http.createServer(outer);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  it('meters the requests and tokens of its /api', async () => {
    const res = await fetch(`${base}/gw/api/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token({ sub: 'u-mounted' })}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(upstream.received.map((r) => r.target)).toEqual(['/api/v1/chat/completions']);
    await gw.gateway.idle();
    const counters = await dayCounters(gw.gateway, { userId: 'u-mounted', plan: 'free' });
    expect([counters.requests, counters.tokens]).toEqual([1, SERVED.prompt + SERVED.completion]);
  });
});
