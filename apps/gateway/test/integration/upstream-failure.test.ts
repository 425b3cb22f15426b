import { freePort, createTestDatabase } from '../../../../test-support/services';
import { MemoryStore } from '@tollgate/core';
import { LlmUpstream } from '../support/llm-upstream';
import { startGateway, token, type RunningGateway } from '../support/kit';

describe('upstream failures', () => {
  let upstream: LlmUpstream;
  let down: RunningGateway;
  let slow: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };
  const auth = { authorization: `Bearer ${token({ sub: 'u-fail', tenant_id: 'fail-co' })}` };

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_fail');
    // Nothing listens on this port: every forward is refused.
    down = await startGateway(
      { UPSTREAM_URL: `http://127.0.0.1:${await freePort()}`, DATABASE_URL: db.url, FLUSHER: 'off' },
      { store: new MemoryStore() },
    );
    slow = await startGateway(
      { UPSTREAM_URL: upstream.url, UPSTREAM_TIMEOUT_MS: '300', DATABASE_URL: db.url, FLUSHER: 'off' },
      { store: new MemoryStore() },
    );
  });

  afterAll(async () => {
    await down?.close();
    await slow?.close();
    await upstream?.stop();
    await db?.drop();
  });

  it('answers 502 problem+json when the upstream is unreachable, and keeps serving', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${down.url}/api/hello`, { headers: auth });
      expect(res.status).toBe(502);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(await res.json()).toMatchObject({ status: 502, title: 'Bad Gateway' });
    }
    expect((await fetch(`${down.url}/healthz`)).status).toBe(200);
    // Admitted requests count whatever the upstream answered.
    await down.gateway.idle();
    const status = await down.gateway.engine.status({ tenantId: 'fail-co' });
    expect(status.quotas.requests?.day?.used).toBe(3);
  });

  it('answers 504 problem+json when the upstream is too slow, and the next request still works', async () => {
    const res = await fetch(`${slow.url}/api/slow?ms=3000`, { headers: auth });
    expect(res.status).toBe(504);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ status: 504, title: 'Gateway Timeout' });
    const ok = await fetch(`${slow.url}/api/hello`, { headers: auth });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ ok: true, user: 'u-fail' });
  });

  it('counts gateway errors in the metrics by outcome', async () => {
    const text = await (await fetch(`${down.url}/metrics`)).text();
    expect(text).toMatch(/tollgate_gateway_requests_total\{outcome="bad_gateway"\} 3/);
    const slowText = await (await fetch(`${slow.url}/metrics`)).text();
    expect(slowText).toMatch(/tollgate_gateway_requests_total\{outcome="gateway_timeout"\} 1/);
    expect(slowText).toMatch(/tollgate_store_latency_seconds_count\{operation="apply"\} \d+/);
  });
});
