import { openSqlClient } from '@tollgate/ledger';
import { createTestDatabase, OwnedRedis, uniquePrefix } from '../../../../test-support/services';
import { LlmUpstream, deferred } from '../support/llm-upstream';
import { METERED_CONFIG, ledgerByMeter, startGateway, token } from '../support/kit';

describe('operations: readiness, degradation, graceful shutdown', () => {
  let upstream: LlmUpstream;
  let redis: OwnedRedis;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    redis = await OwnedRedis.start();
    db = await createTestDatabase('gw_ops');
  });

  afterAll(async () => {
    await upstream?.stop();
    await redis?.destroy();
    await db?.drop();
  });

  it('reports readiness, serves degraded when Redis goes away, and recovers', async () => {
    const gw = await startGateway({
      UPSTREAM_URL: upstream.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: uniquePrefix('gw-ops'),
      DATABASE_URL: db.url,
      FLUSHER: 'off',
      STORE_TIMEOUT_MS: '200',
    });
    try {
      const ready = await fetch(`${gw.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({
        status: 'ready',
        store: 'up',
        ledger: 'up',
        degraded: false,
      });

      await redis.stop();
      const auth = { authorization: `Bearer ${token({ sub: 'ops-user', tenant_id: 'ops' })}` };
      const res = await fetch(`${gw.url}/api/hello`, { headers: auth });
      // FAIL_MODE=open: admitted, marked degraded, and the process keeps serving.
      expect(res.status).toBe(200);
      expect(res.headers.get('tollgate-degraded')).toBe('store-unavailable');
      await res.text();
      const down = await fetch(`${gw.url}/readyz`);
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({
        status: 'unavailable',
        store: 'down',
        ledger: 'up',
        degraded: true,
      });
      expect(await (await fetch(`${gw.url}/metrics`)).text()).toMatch(/tollgate_degraded_responses_total 1/);

      await redis.start();
      // The client reconnects with backoff; readiness returns once a ping answers.
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await fetch(`${gw.url}/readyz`)).status;
      }
      expect(status).toBe(200);
    } finally {
      await gw.close();
    }
  });

  it('answers 503 problem+json with FAIL_MODE=closed while the store is down', async () => {
    const own = await OwnedRedis.start();
    const gw = await startGateway({
      UPSTREAM_URL: upstream.url,
      REDIS_URL: own.url,
      DATABASE_URL: db.url,
      FLUSHER: 'off',
      FAIL_MODE: 'closed',
      STORE_TIMEOUT_MS: '200',
    });
    try {
      await own.stop();
      const res = await fetch(`${gw.url}/api/hello`, {
        headers: { authorization: `Bearer ${token({ sub: 'closed-user' })}` },
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(await res.json()).toMatchObject({ status: 503 });
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    } finally {
      await gw.close();
      await own.destroy();
    }
  });

  it('on close lets an in-flight stream finish, settles its tokens and flushes them to the ledger', async () => {
    const gw = await startGateway(
      {
        UPSTREAM_URL: upstream.url,
        REDIS_URL: redis.url,
        REDIS_PREFIX: uniquePrefix('gw-ops-close'),
        DATABASE_URL: db.url,
        FLUSHER: 'inline',
        FLUSH_INTERVAL_MS: '600000',
      },
      { config: METERED_CONFIG },
    );
    const gate = deferred();
    upstream.hold = gate.promise;
    let closed = false;
    try {
      const res = await fetch(`${gw.url}/api/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token({ sub: 'closing-user', tenant_id: 'closing' })}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'bye' }] }),
      });
      const reader = res.body!.getReader();
      await reader.read();
      const closing = gw.close().then(() => (closed = true));
      // New connections are refused while the in-flight stream goes on.
      await expect(fetch(`${gw.url}/healthz`)).rejects.toThrow();
      expect(closed).toBe(false);
      gate.resolve();
      let text = '';
      for (let r = await reader.read(); !r.done; r = await reader.read())
        text += new TextDecoder().decode(r.value);
      expect(text).toContain('data: [DONE]');
      await closing;
    } finally {
      gate.resolve();
      upstream.hold = null;
    }
    const u = upstream.reported[upstream.reported.length - 1]!;
    // The gateway closed its own ledger client: read through a fresh one.
    const sql = await openSqlClient({ databaseUrl: db.url });
    try {
      const after = await ledgerByMeter(sql, 'closing-user');
      expect(after.requests?.amount).toBe(1);
      expect(after.input_tokens?.amount).toBe(u.input);
      expect(after.output_tokens?.amount).toBe(u.output);
    } finally {
      await sql.close();
    }
  });
});
