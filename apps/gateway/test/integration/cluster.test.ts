import { createTestDatabase, OwnedRedisCluster } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { METERED_CONFIG, dayCounters, startGateway, token, type RunningGateway } from '../support/kit';

describe('the gateway on a Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  let cluster: OwnedRedisCluster;
  let upstream: LlmUpstream;
  let db: { url: string; drop: () => Promise<void> };
  let gw: RunningGateway;

  beforeAll(async () => {
    cluster = await OwnedRedisCluster.start();
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_cluster');
    gw = await startGateway(
      {
        UPSTREAM_URL: upstream.url,
        STRIP_PREFIX: '/api',
        REDIS_CLUSTER_NODES: cluster.startupNodes.map((n) => `${n.host}:${n.port}`).join(','),
        DATABASE_URL: db.url,
        FLUSHER: 'inline',
        FLUSH_INTERVAL_MS: '600000',
      },
      {
        config: {
          ...METERED_CONFIG,
          plans: { free: { limits: { ...METERED_CONFIG.plans.free!.limits, requests: { day: 12 } } } },
        },
      },
    );
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
    await cluster?.destroy();
  });

  it('admits exactly the limit for tenants spread over the slots, and meters tokens', async () => {
    const tenants = ['c-alpha', 'c-beta', 'c-gamma', 'c-delta'];
    const results = await Promise.all(
      tenants.flatMap((t) =>
        Array.from({ length: 20 }, () =>
          fetch(`${gw.url}/api/v1/chat/completions`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${token({ sub: `${t}-user`, tenant_id: t })}`,
              'content-type': 'application/json',
            },
            body: JSON.stringify({
              model: 'gpt-4o',
              max_tokens: 8,
              messages: [{ role: 'user', content: t }],
            }),
          }).then(async (r) => {
            await r.text();
            return { tenant: t, status: r.status };
          }),
        ),
      ),
    );
    await gw.gateway.idle();
    for (const t of tenants) {
      const mine = results.filter((r) => r.tenant === t);
      expect(mine.filter((r) => r.status === 200)).toHaveLength(12);
      expect(mine.filter((r) => r.status === 429)).toHaveLength(8);
      const c = await dayCounters(gw.gateway, { tenantId: t, plan: 'free' });
      expect(c.requests).toBe(12);
      expect(c.output_tokens).toBe(12 * 8);
    }
  });
});
