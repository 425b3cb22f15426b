import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { dayCounters, startGateway, token, type RunningGateway } from '../support/kit';

const LIMIT = 25;

describe('two gateways on one Redis', () => {
  let upstream: LlmUpstream;
  let a: RunningGateway;
  let b: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_two');
    const env = {
      UPSTREAM_URL: upstream.url,
      REDIS_URL,
      REDIS_PREFIX: uniquePrefix('gw-two'),
      DATABASE_URL: db.url,
      FLUSHER: 'off',
    };
    const config = { plans: { free: { limits: { requests: { day: LIMIT } } } } };
    a = await startGateway(env, { config });
    b = await startGateway(env, { config });
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await upstream?.stop();
    await db?.drop();
  });

  it('enforce one shared limit exactly under 80 concurrent requests split between them', async () => {
    const t = token({ sub: 'shared-user', tenant_id: 'shared', tier: 'free' });
    const responses = await Promise.all(
      Array.from({ length: 80 }, (_, i) =>
        fetch(`${(i % 2 ? a : b).url}/api/hello`, { headers: { authorization: `Bearer ${t}` } }).then(
          async (r) => {
            await r.text();
            return { gateway: i % 2 ? 'a' : 'b', status: r.status };
          },
        ),
      ),
    );
    const ok = responses.filter((r) => r.status === 200);
    expect(ok).toHaveLength(LIMIT);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(80 - LIMIT);
    // Each instance answered half; together they admitted the limit once, not once each (which instance
    // got the admissions depends on scheduling).
    expect(responses.filter((r) => r.gateway === 'a')).toHaveLength(40);
    await Promise.all([a.gateway.idle(), b.gateway.idle()]);
    expect((await dayCounters(a.gateway, { tenantId: 'shared', plan: 'free' })).requests).toBe(LIMIT);
    expect((await dayCounters(b.gateway, { tenantId: 'shared', plan: 'free' })).requests).toBe(LIMIT);
  });

  it('apply an admin override set through one instance at once on the other', async () => {
    const user = token({ sub: 'ov-user', tenant_id: 'override-co', tier: 'free' });
    const admin = token({ sub: 'ops', tenant_id: 'ops', role: 'admin', tier: 'free' });
    const put = await fetch(`${a.url}/admin/quotas/tenant/override-co`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ meter: 'requests', period: 'day', limit: 2 }),
    });
    expect(put.status).toBe(200);
    const quota = await fetch(`${b.url}/usage/quota`, { headers: { authorization: `Bearer ${user}` } });
    expect(
      ((await quota.json()) as { quotas: { requests: { day: { limit: number } } } }).quotas.requests.day
        .limit,
    ).toBe(2);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${b.url}/api/hello`, { headers: { authorization: `Bearer ${user}` } });
      await r.text();
      statuses.push(r.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
  });
});
