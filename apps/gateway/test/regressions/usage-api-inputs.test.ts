// Regressions of the usage API's inputs (issue 19):
// - names every JavaScript object inherits (`__proto__`, `constructor`, `toString`) passed as meter names: check-quota
//   answered 200 for them and PUT /admin/quotas saved overrides for them;
// - a user's override inside a tenant (PUT /admin/quotas/user/:id with tenantId) answered 200 but was not enforced
//   when the user's plan had no userLimits (on MemoryStore and Redis alike);
// - numbers past what the stores hold are 400s naming the field.
import express from 'express';
import jwt from 'jsonwebtoken';
import Redis from 'ioredis';
import request from 'supertest';
import { MemoryStore, QuotaEngine, parseConfig, type CounterStore } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';
import { migrate, openSqlClient, type SqlClient } from '@tollgate/ledger';
import { REDIS_URL, createTestDatabase, uniquePrefix } from '../../../../test-support/services';
import { createUsageApi, usageErrorHandler } from '../../src/usage-api';
import { hs256Authenticate } from '../support/usage-auth';

const SECRET = 'usage-inputs-test-secret-0123456789';
const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];

// No userLimits on any plan: a user override is the only thing that caps a user.
const config = parseConfig({
  plans: { free: { limits: { requests: { day: 100 }, tokens: { day: 10000 } } } },
});

const sign = (claims: Record<string, unknown>) =>
  jwt.sign(claims, SECRET, { algorithm: 'HS256', expiresIn: '1h' });
const admin = sign({ sub: 'root', tenant_id: 'ops', role: 'admin' });
const bob = sign({ sub: 'bob', tenant_id: 'acme', tier: 'free' });
const carol = sign({ sub: 'carol', tenant_id: 'acme', tier: 'free' });

let db: { url: string; drop: () => Promise<void> };
let sql: SqlClient;
let redis: Redis;

beforeAll(async () => {
  db = await createTestDatabase('usage_inputs');
  sql = await openSqlClient({ databaseUrl: db.url });
  await migrate(sql);
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  await redis.quit();
  await sql.close();
  await db.drop();
});

function appFor(store: CounterStore): { app: express.Express; engine: QuotaEngine } {
  const engine = new QuotaEngine({ store, config });
  const app = express();
  app.use(createUsageApi({ engine, sql, authenticate: hs256Authenticate(SECRET) }));
  app.use(usageErrorHandler);
  return { app, engine };
}

const fields = (res: request.Response) => (res.body.errors ?? []).map((e: { field: string }) => e.field);

describe('meter names are configured meters, never inherited names', () => {
  let app: express.Express;
  beforeAll(() => {
    ({ app } = appFor(new MemoryStore()));
  });

  it.each(PROTOTYPE_NAMES)('check-quota with meter %j is a 400 naming meter', async (name) => {
    const res = await request(app)
      .post('/usage/check-quota')
      .set('authorization', `Bearer ${bob}`)
      .set('content-type', 'application/json')
      .send(`{"meter": ${JSON.stringify(name)}, "amount": 1}`);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'meter', message: 'unknown meter' }]);
  });

  it.each(PROTOTYPE_NAMES)('PUT /admin/quotas with meter %j is a 400 and saves nothing', async (name) => {
    const res = await request(app)
      .put('/admin/quotas/tenant/acme')
      .set('authorization', `Bearer ${admin}`)
      .set('content-type', 'application/json')
      .send(`{"meter": ${JSON.stringify(name)}, "period": "day", "limit": 5}`);
    expect(res.status).toBe(400);
    expect(fields(res)).toEqual(['meter']);
    const saved = await sql.query('SELECT 1 FROM quota_overrides WHERE meter = $1', [name]);
    expect(saved.rows).toEqual([]);
  });

  it.each(PROTOTYPE_NAMES)('timeseries/%s is a 400 naming meter', async (name) => {
    const res = await request(app)
      .get(`/usage/timeseries/${encodeURIComponent(name)}`)
      .set('authorization', `Bearer ${bob}`);
    expect(res.status).toBe(400);
    expect(fields(res)).toEqual(['meter']);
  });

  it.each(PROTOTYPE_NAMES)('admin/usage/top?meter=%s is a 400 naming meter', async (name) => {
    const res = await request(app)
      .get(`/admin/usage/top?meter=${encodeURIComponent(name)}`)
      .set('authorization', `Bearer ${admin}`);
    expect(res.status).toBe(400);
    expect(fields(res)).toEqual(['meter']);
  });
});

describe('numbers past what the stores hold are 400s naming the field', () => {
  let app: express.Express;
  beforeAll(() => {
    ({ app } = appFor(new MemoryStore()));
  });

  it.each([
    ['9007199254740992', 'amount', 'is too large'],
    ['1e21', 'amount', 'is too large'],
    ['1e400', 'amount', 'is too large'],
    ['-1', 'amount', 'must be an integer >= 0'],
    ['1.5', 'amount', 'must be an integer >= 0'],
  ])('check-quota amount %s: 400 naming %s', async (amount, field, message) => {
    const res = await request(app)
      .post('/usage/check-quota')
      .set('authorization', `Bearer ${bob}`)
      .set('content-type', 'application/json')
      .send(`{"meter": "tokens", "amount": ${amount}}`);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field, message }]);
  });

  it.each([
    ['requests', '9007199254740992', 'is too large'],
    ['requests', '1e21', 'is too large'],
    ['requests', '1e400', 'is too large'],
    ['cost', '"10000000.000001"', 'is too large'],
    ['cost', '"99999999999.00"', 'is too large'],
    ['cost', '"1e3"', 'must be a USD amount such as "50.00" (at most 6 decimals) or -1 for unlimited'],
  ])('PUT /admin/quotas %s limit %s: 400 naming limit, nothing saved', async (meter, limit, message) => {
    const res = await request(app)
      .put('/admin/quotas/tenant/big')
      .set('authorization', `Bearer ${admin}`)
      .set('content-type', 'application/json')
      .send(`{"meter": "${meter}", "period": "day", "limit": ${limit}}`);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'limit', message }]);
    const saved = await sql.query(`SELECT 1 FROM quota_overrides WHERE id = 'big'`);
    expect(saved.rows).toEqual([]);
  });

  it('takes the largest limit the stores hold', async () => {
    const res = await request(app)
      .put('/admin/quotas/tenant/big-ok')
      .set('authorization', `Bearer ${admin}`)
      .send({ meter: 'requests', period: 'day', limit: Number.MAX_SAFE_INTEGER });
    expect(res.status).toBe(200);
    const q = await request(app).get('/usage/quota?tenantId=big-ok').set('authorization', `Bearer ${admin}`);
    expect(q.body.quotas.requests.day).toMatchObject({ limit: Number.MAX_SAFE_INTEGER, used: 0 });
  });
});

const stores: Array<{ name: string; create: () => CounterStore }> = [
  { name: 'MemoryStore', create: () => new MemoryStore() },
  {
    name: 'RedisStore',
    create: () => new RedisStore({ client: redis, prefix: uniquePrefix('usage-inputs') }),
  },
];

describe.each(stores)('a user override inside a tenant, plan without userLimits ($name)', ({ create }) => {
  let store: CounterStore;
  let app: express.Express;
  let engine: QuotaEngine;
  beforeEach(() => {
    store = create();
    ({ app, engine } = appFor(store));
  });
  afterEach(async () => {
    await store.close();
    await sql.query('DELETE FROM quota_overrides');
  });

  it('is enforced, and shown in userQuotas of GET /usage/quota', async () => {
    const put = await request(app)
      .put('/admin/quotas/user/bob')
      .set('authorization', `Bearer ${admin}`)
      .send({ meter: 'requests', period: 'day', limit: 2, tenantId: 'acme' });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({
      scope: 'user',
      id: 'bob',
      tenantId: 'acme',
      meter: 'requests',
      period: 'day',
      limit: 2,
    });
    const who = { tenantId: 'acme', userId: 'bob', plan: 'free' };
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push((await engine.consume(who, { requests: 1 })).admitted);
    expect(answers).toEqual([true, true, false]);

    const quota = await request(app).get('/usage/quota').set('authorization', `Bearer ${bob}`);
    expect(quota.status).toBe(200);
    expect(quota.body.userQuotas).toEqual({
      requests: { day: expect.objectContaining({ limit: 2, used: 2, remaining: 0, percentage: 100 }) },
    });
    expect(quota.body.anyExceeded).toBe(true);
    const check = await request(app)
      .post('/usage/check-quota')
      .set('authorization', `Bearer ${bob}`)
      .send({ meter: 'requests', amount: 1 });
    expect(check.body).toEqual({ allowed: false, remaining: 0 });

    // Carol, in the same tenant, is not capped.
    const carolQuota = await request(app).get('/usage/quota').set('authorization', `Bearer ${carol}`);
    expect(carolQuota.body.userQuotas).toEqual({});
    expect((await engine.consume({ tenantId: 'acme', userId: 'carol' }, { requests: 1 })).admitted).toBe(
      true,
    );
  });
});

describe('PUT /admin/quotas: a cost limit given as a number is dollars, as in the config file', () => {
  let app: express.Express;
  beforeAll(() => {
    ({ app } = appFor(new MemoryStore()));
  });

  it.each([
    [50, '50.000000'],
    [0.25, '0.250000'],
    [-1, -1],
  ])('limit %j is %j in /usage/quota', async (limit, shown) => {
    const res = await request(app)
      .put('/admin/quotas/tenant/dollars')
      .set('authorization', `Bearer ${admin}`)
      .send({ meter: 'cost', period: 'month', limit });
    expect(res.status).toBe(200);
    const q = await request(app).get('/usage/quota?tenantId=dollars').set('authorization', `Bearer ${admin}`);
    expect(q.body.quotas.cost.month.limit).toEqual(shown);
  });

  it.each([
    [1.5, 'requests', 'must be an integer >= -1 (-1 = unlimited)'],
    [-2, 'cost', 'must be an integer >= -1 (-1 = unlimited)'],
    [0.0000001, 'cost', 'must be a USD amount such as "50.00" (at most 6 decimals) or -1 for unlimited'],
  ])('limit %j on %s is a 400 naming limit', async (limit, meter, message) => {
    const res = await request(app)
      .put('/admin/quotas/tenant/dollars-bad')
      .set('authorization', `Bearer ${admin}`)
      .send({ meter, period: 'month', limit });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'limit', message }]);
  });
});
