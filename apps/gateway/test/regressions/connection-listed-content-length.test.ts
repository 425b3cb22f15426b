// Regression: `Connection: content-length` made the gateway drop the request's Content-Length (a Connection-listed
// header), so a GET, HEAD, DELETE or OPTIONS with a body went upstream with no framing (or http-proxy's
// `content-length: 0`): the upstream read the body as a second request on the pooled connection. A whole
// `POST /v1/chat/completions` with any X-User-Id was smuggled past metering, identity and the signature.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryStore } from '@tollgate/core';
import { createTestDatabase } from '../../../../test-support/services';
import { startGateway, token, type RunningGateway } from '../support/kit';
import { rawRequest } from '../support/raw-socket';

interface Seen {
  method: string;
  url: string;
  userId: string | undefined;
  bodyBytes: number;
}

describe('a Connection-listed Content-Length', () => {
  let upstream: http.Server;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };
  const seen: Seen[] = [];

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      let bodyBytes = 0;
      req.on('data', (c: Buffer) => (bodyBytes += c.length));
      req.on('end', () => {
        seen.push({
          method: req.method!,
          url: req.url!,
          userId: req.headers['x-user-id'] as string,
          bodyBytes,
        });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    db = await createTestDatabase('reg_conn_cl');
    gw = await startGateway(
      {
        UPSTREAM_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
        DATABASE_URL: db.url,
        FLUSHER: 'off',
      },
      { store: new MemoryStore() },
    );
  });

  afterAll(async () => {
    await gw?.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
    await db?.drop();
  });

  it.each(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'PUT'])(
    'keeps the framing of a %s body: no second request upstream',
    async (method) => {
      seen.length = 0;
      const smuggled = Buffer.from(
        'POST /v1/chat/completions HTTP/1.1\r\nHost: up\r\nX-User-Id: victim\r\nContent-Length: 2\r\n\r\n{}',
      );
      const res = await rawRequest(Number(new URL(gw.url).port), {
        method,
        target: '/api/items',
        headers: [
          ['Authorization', `Bearer ${token({ sub: 'attacker' })}`],
          ['Connection', 'close, content-length'],
          ['Content-Length', String(smuggled.length)],
        ],
        body: smuggled,
      });
      expect(res.status).toBe(200);
      // Let a smuggled request, if any, reach the upstream handler.
      await gw.gateway.idle();
      expect(seen).toEqual([{ method, url: '/api/items', userId: 'attacker', bodyBytes: smuggled.length }]);
    },
  );
});
