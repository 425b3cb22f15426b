// Per-key quotas (SPEC §11) through two gateway processes: keyLimits and PUT /admin/quotas/key/:id are enforced
// exactly under concurrency, in the same atomic admission as the tenant's and user's limits, on one Redis and on a
// 3-node Redis Cluster; the 429 names scope "key" and /usage/quota with the key shows its key quotas.
import {
  createTestDatabase,
  OwnedRedisCluster,
  REDIS_URL,
  uniquePrefix,
} from '../../../../test-support/services';
import { buildGateway, startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { LlmUpstream } from '../support/llm-upstream';
import { configFile, SECRET, startGateway, token, type RunningGateway } from '../support/kit';

const KEY_LIMIT = 40;
const CONFIG = {
  defaultPlan: 'free',
  plans: { free: { limits: { requests: { day: 100_000 } } } },
  keyLimits: { free: { requests: { day: KEY_LIMIT } } },
};
const admin = token({ sub: 'root', role: 'admin' });

interface Setup {
  redisEnv: () => Promise<{ env: Record<string, string>; close: () => Promise<void> }>;
}

const setups: Array<[string, Setup]> = [
  [
    'one Redis',
    {
      redisEnv: async () => ({
        env: { REDIS_URL, REDIS_PREFIX: uniquePrefix('gw-keyq') },
        close: async () => {},
      }),
    },
  ],
  [
    'a 3-node Redis Cluster',
    {
      redisEnv: async () => {
        const cluster = await OwnedRedisCluster.start();
        return {
          env: { REDIS_CLUSTER_NODES: cluster.startupNodes.map((n) => `${n.host}:${n.port}`).join(',') },
          close: () => cluster.destroy(),
        };
      },
    },
  ],
];

describe.each(setups)('per-key quotas on two gateway processes over %s', (_name, setup) => {
  let upstream: LlmUpstream;
  let db: { url: string; drop: () => Promise<void> };
  let redis: { env: Record<string, string>; close: () => Promise<void> };
  let a: RunningGateway;
  let b: GatewayProcess;

  beforeAll(async () => {
    buildGateway();
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_keyq');
    redis = await setup.redisEnv();
    const env = {
      UPSTREAM_URL: upstream.url,
      DATABASE_URL: db.url,
      FLUSHER: 'off',
      JWT_SECRET: SECRET,
      LOG_LEVEL: 'warn',
      STORE_TIMEOUT_MS: '2000',
      TOLLGATE_CONFIG: configFile(CONFIG),
      ...redis.env,
    };
    a = await startGateway(env);
    b = await startGatewayProcess(env);
  }, 240_000);

  afterAll(async () => {
    await a?.close();
    await b?.stop();
    await upstream?.stop();
    await db?.drop();
    await redis?.close();
  });

  async function createKey(userId: string): Promise<{ id: string; key: string }> {
    const res = await fetch(`${a.url}/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'load', tenantId: 'acme-keys', userId, tier: 'free' }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string; key: string };
  }

  async function burst(key: string, n: number) {
    return Promise.all(
      Array.from({ length: n }, (_, i) =>
        fetch(`${i % 2 ? a.url : b.url}/api/hello`, { headers: { 'x-api-key': key } }).then(async (r) => ({
          status: r.status,
          degraded: r.headers.get('tollgate-degraded'),
          body: r.status === 429 ? ((await r.json()) as Record<string, unknown>) : (await r.text(), null),
        })),
      ),
    );
  }

  it('admits exactly the keyLimits of the plan under 300 concurrent requests, and a 429 names scope "key"', async () => {
    const k = await createKey('alice');
    const before = upstream.received.length;
    const results = await burst(k.key, 300);
    expect(results.filter((r) => r.degraded !== null)).toEqual([]);
    expect(results.filter((r) => r.status === 200)).toHaveLength(KEY_LIMIT);
    const refused = results.filter((r) => r.status === 429);
    expect(refused).toHaveLength(300 - KEY_LIMIT);
    expect(refused[0]!.body).toMatchObject({
      scope: 'key',
      meter: 'requests',
      period: 'day',
      limit: KEY_LIMIT,
      used: KEY_LIMIT,
    });
    expect(upstream.received.length - before).toBe(KEY_LIMIT);

    const quota = await fetch(`${b.url}/usage/quota`, { headers: { 'x-api-key': k.key } });
    const status = (await quota.json()) as {
      quotas: { requests: { day: { used: number } } };
      keyQuotas: { requests: { day: { used: number; limit: number; remaining: number } } };
    };
    expect(status.keyQuotas.requests.day).toMatchObject({ used: KEY_LIMIT, limit: KEY_LIMIT, remaining: 0 });
    expect(status.quotas.requests.day.used).toBe(KEY_LIMIT);

    // Another key of the same user has its own cap: the first key's refusals took nothing from it.
    const other = await createKey('alice');
    expect((await burst(other.key, 2)).map((r) => r.status)).toEqual([200, 200]);
  });

  it('applies PUT /admin/quotas/key/:id at once on both processes, exactly under concurrency', async () => {
    const k = await createKey('bob');
    const put = await fetch(`${a.url}/admin/quotas/key/${k.id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ meter: 'requests', period: 'day', limit: 75 }),
    });
    expect(put.status).toBe(200);
    const results = await burst(k.key, 300);
    expect(results.filter((r) => r.status === 200)).toHaveLength(75);
    expect(results.filter((r) => r.status === 429)).toHaveLength(225);
    // A key that does not exist has no override to set; a non-admin may not set one.
    const missing = await fetch(`${a.url}/admin/quotas/key/key_nope`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ meter: 'requests', period: 'day', limit: 1 }),
    });
    expect(missing.status).toBe(404);
    const user = await fetch(`${a.url}/admin/quotas/key/${k.id}`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${token({ sub: 'bob', tenant_id: 'acme-keys' })}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ meter: 'requests', period: 'day', limit: 1000 }),
    });
    expect(user.status).toBe(403);
  });
});
