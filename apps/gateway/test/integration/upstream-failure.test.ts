import { freePort, createTestDatabase } from '../../../../test-support/services';
import { MemoryStore } from '@tollgate/core';
import { LlmUpstream } from '../support/llm-upstream';
import { startGateway, token, type RunningGateway } from '../support/kit';

describe('upstream failures', () => {
  let upstream: LlmUpstream;
  let down: RunningGateway;
  let slow: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };
  const slowStore = new MemoryStore();
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
      { store: slowStore },
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

  it('counts an upstream that breaks off or stalls mid-response as one error, not as a client abort', async () => {
    /** `errors` counted since the last call (claimed from the store and acknowledged). */
    const claimErrors = async () => {
      await slow.gateway.idle();
      const batches = await slowStore.claim({ now: Date.now() + 60_000, maxTags: 100, staleAfterMs: 0 });
      await slowStore.ack(batches);
      return batches
        .flatMap((b) => b.usage)
        .filter((d) => d.meter === 'errors')
        .reduce((sum, d) => sum + d.amount, 0);
    };
    /** `tollgate_gateway_requests_total` by outcome. */
    const outcomes = async () => {
      const text = await (await fetch(`${slow.url}/metrics`)).text();
      const out: Record<string, number> = {};
      for (const m of text.matchAll(/tollgate_gateway_requests_total\{outcome="(\w+)"\} (\d+)/g))
        out[m[1]!] = Number(m[2]);
      return out;
    };
    await claimErrors();
    // A 504 sent whole counts once, by its status.
    expect((await fetch(`${slow.url}/api/slow?ms=3000`, { headers: auth })).status).toBe(504);
    expect(await claimErrors()).toBe(1);
    const before = await outcomes();
    for (const [path, status] of [
      ['/api/cut', 200],
      ['/api/stall', 200],
      ['/api/cut?status=500', 500],
    ] as const) {
      const res = await fetch(`${slow.url}${path}`, { headers: auth });
      expect(res.status).toBe(status);
      // The client sees a cut body, never a complete one.
      await expect(res.text()).rejects.toThrow();
    }
    expect(await claimErrors()).toBe(3);
    const after = await outcomes();
    const added = (outcome: string) => (after[outcome] ?? 0) - (before[outcome] ?? 0);
    expect([added('bad_gateway'), added('gateway_timeout'), added('client_aborted')]).toEqual([2, 1, 0]);
  });

  it('counts gateway errors in the metrics by outcome', async () => {
    const text = await (await fetch(`${down.url}/metrics`)).text();
    expect(text).toMatch(/tollgate_gateway_requests_total\{outcome="bad_gateway"\} 3/);
    const slowText = await (await fetch(`${slow.url}/metrics`)).text();
    expect(slowText).toMatch(/tollgate_gateway_requests_total\{outcome="gateway_timeout"\} 3/);
    expect(slowText).toMatch(/tollgate_store_latency_seconds_count\{operation="apply"\} \d+/);
  });
});
