// Regression: with the gateway (or an Express app on raw node:http) in the same process, Node's own
// ServerResponse.prototype counted body bytes, and the Fastify plugin counted them again in onSend.
import http from 'node:http';
import Fastify from 'fastify';
import { MemoryStore, parseConfig } from '@tollgate/core';
import { countBodyBytes } from '@tollgate/http';
import tollgate from '../../src';

it('counts a Fastify response body once when ServerResponse.prototype is already counting', async () => {
  countBodyBytes(http.ServerResponse.prototype); // what a raw node:http Tollgate mount in this process does
  const store = new MemoryStore();
  const app = Fastify();
  await app.register(tollgate, {
    store,
    config: parseConfig({ plans: { free: { limits: { requests: { day: 100 } } } } }),
  });
  const body = 'x'.repeat(52);
  app.get('/api/hello', async (_req, reply) => reply.type('text/plain').send(body));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  const res = await fetch(`http://127.0.0.1:${port}/api/hello`, { headers: { 'x-tenant-id': 'bytes-co' } });
  expect(await res.text()).toBe(body);
  await app.close(); // settles and flushes what the request recorded
  const batches = await store.claim({ now: Date.now(), maxTags: 100, staleAfterMs: 60_000 });
  const bytesOut = batches
    .flatMap((b) => b.usage)
    .filter((u) => u.meter === 'bytes_out')
    .reduce((a, u) => a + u.amount, 0);
  expect(bytesOut).toBe(52);
  await store.close();
});
