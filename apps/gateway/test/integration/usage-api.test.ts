import express from 'express';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { MemoryStore, QuotaEngine, parseConfig, usdToPico, type TollgateConfig } from '@tollgate/core';
import { Flusher, migrate, openSqlClient, type SqlClient } from '@tollgate/ledger';
import { createTestDatabase } from '../../../../test-support/services';
import { createUsageApi, usageErrorHandler } from '../../src/usage-api';
import { hs256Authenticate } from '../support/usage-auth';

const SECRET = 'usage-api-test-secret-0123456789';
const DAY = 86_400_000;

const config: TollgateConfig = parseConfig({
  warnAt: [50, 80, 100],
  plans: {
    free: { limits: { requests: { day: 10 }, tokens: { day: 10000 } } },
    pro: { limits: { requests: { day: -1 } } },
  },
  userLimits: { free: { tokens: { day: 4000 } } },
  pricing: { 'demo-model': { input: '1.50', output: '3.00' } },
});

function token(claims: Record<string, unknown>): string {
  return jwt.sign(claims, SECRET, { algorithm: 'HS256', expiresIn: '1h' });
}

const alice = token({ sub: 'alice', tenant_id: 'acme', tier: 'free' });
const bob = token({ sub: 'bob', tenant_id: 'acme', tier: 'free' });
const eve = token({ sub: 'eve', tenant_id: 'globex', tier: 'free' });
const admin = token({ sub: 'root', tenant_id: 'ops', role: 'admin', tier: 'pro' });

const authenticate = hs256Authenticate(SECRET);

describe('usage API', () => {
  let db: { url: string; drop: () => Promise<void> };
  let sql: SqlClient;
  let store: MemoryStore;
  let engine: QuotaEngine;
  let flusher: Flusher;
  let offset = 0;
  const now = () => Date.now() + offset;
  let app: express.Express;

  const at = async (daysAgo: number, fn: () => Promise<unknown>) => {
    offset = -daysAgo * DAY;
    try {
      await fn();
    } finally {
      offset = 0;
    }
  };

  beforeAll(async () => {
    db = await createTestDatabase('usage_api');
    sql = await openSqlClient({ databaseUrl: db.url });
    await migrate(sql);
    store = new MemoryStore();
    engine = new QuotaEngine({ store, config, now });
    flusher = new Flusher({ store, sql, intervalMs: 60_000 });
    app = express();
    app.use(createUsageApi({ engine, sql, authenticate, now }));
    app.use(usageErrorHandler);

    // Alice: 3 requests today, 2 five days ago; tokens with a price. Bob: 1 request today. Eve: another tenant.
    for (let i = 0; i < 3; i++)
      await engine.consume({ tenantId: 'acme', userId: 'alice', plan: 'free' }, { requests: 1 });
    await at(5, async () => {
      await engine.consume({ tenantId: 'acme', userId: 'alice', plan: 'free' }, { requests: 1 });
      await engine.consume({ tenantId: 'acme', userId: 'alice', plan: 'free' }, { requests: 1 });
    });
    await engine.record({ tenantId: 'acme', userId: 'alice', plan: 'free' }, [
      { meter: 'input_tokens', amount: 1000, model: 'demo-model' },
      { meter: 'output_tokens', amount: 500, model: 'demo-model' },
      { meter: 'latency_ms', amount: 90 },
      { meter: 'errors', amount: 1 },
    ]);
    await engine.consume({ tenantId: 'acme', userId: 'bob', plan: 'free' }, { requests: 1 });
    await engine.consume({ tenantId: 'globex', userId: 'eve', plan: 'free' }, { requests: 1 });
    await flusher.flushOnce();
  });

  afterAll(async () => {
    await flusher.close();
    await store.close();
    await sql.close();
    await db.drop();
  });

  it('answers 401 problem+json without a valid token', async () => {
    const res = await request(app).get('/usage/quota');
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const bad = await request(app).get('/usage/quota').set('authorization', 'Bearer nope');
    expect(bad.status).toBe(401);
  });

  it('reports real-time quota with limits, remaining, percentage and user caps', async () => {
    const res = await request(app).get('/usage/quota').set('authorization', `Bearer ${alice}`);
    expect(res.status).toBe(200);
    expect(res.body.plan).toBe('free');
    expect(res.body.subject).toEqual({ tenantId: 'acme', userId: 'alice' });
    // The tenant did 4 requests today (3 alice + 1 bob).
    expect(res.body.quotas.requests.day).toMatchObject({ limit: 10, used: 4, remaining: 6, percentage: 40 });
    expect(typeof res.body.quotas.requests.day.resetsAt).toBe('string');
    expect(res.body.quotas.tokens.day).toMatchObject({
      limit: 10000,
      used: 1500,
      remaining: 8500,
      percentage: 15,
    });
    expect(res.body.userQuotas.tokens.day).toMatchObject({
      limit: 4000,
      used: 1500,
      remaining: 2500,
      percentage: 37.5,
    });
    expect(res.body.anyExceeded).toBe(false);
  });

  it('shows unlimited as limit -1, remaining null, percentage 0', async () => {
    const res = await request(app).get('/usage/quota').set('authorization', `Bearer ${admin}`);
    expect(res.body.plan).toBe('pro');
    expect(res.body.quotas.requests.day).toMatchObject({ limit: -1, remaining: null, percentage: 0 });
  });

  it('totals per meter and per model with exact cost strings', async () => {
    const res = await request(app).get('/usage/stats?days=30').set('authorization', `Bearer ${alice}`);
    expect(res.status).toBe(200);
    const byMeter = Object.fromEntries(
      res.body.meters.map((m: { meter: string; amount: number }) => [m.meter, m.amount]),
    );
    expect(byMeter).toMatchObject({
      requests: 5,
      input_tokens: 1000,
      output_tokens: 500,
      tokens: 1500,
      errors: 1,
    });
    // 1000 x $1.50/1M + 500 x $3.00/1M = $0.0015 + $0.0015
    expect(res.body.cost).toBe('0.003000');
    expect(res.body.models).toEqual([expect.objectContaining({ model: 'demo-model', cost: '0.003000' })]);
    expect(res.body.successRate).toBe(80);
    expect(res.body.avgLatencyMs).toBe(18);
    expect(res.body.limits.requests.day.limit).toBe(10);
    expect(res.body.warnings).toEqual([]);
  });

  it('returns exactly `days` zero-filled ascending entries ending today', async () => {
    const res = await request(app)
      .get('/usage/timeseries/requests?days=7')
      .set('authorization', `Bearer ${alice}`);
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(7);
    const dates = res.body.map((p: { date: string }) => p.date);
    expect([...dates].sort()).toEqual(dates);
    expect(dates[6]).toBe(new Date().toISOString().slice(0, 10));
    expect(dates[1]).toBe(new Date(Date.now() - 5 * DAY).toISOString().slice(0, 10));
    expect(res.body.map((p: { amount: number }) => p.amount)).toEqual([0, 2, 0, 0, 0, 0, 3]);
    const ninety = await request(app)
      .get('/usage/timeseries/tokens?days=90')
      .set('authorization', `Bearer ${alice}`);
    expect(ninety.body).toHaveLength(90);
    expect(ninety.body[89].amount).toBe(1500);
  });

  it('answers check-quota with the smallest remaining, without consuming', async () => {
    const before = await request(app).get('/usage/quota').set('authorization', `Bearer ${alice}`);
    const res = await request(app)
      .post('/usage/check-quota')
      .set('authorization', `Bearer ${alice}`)
      .send({ meter: 'tokens', amount: 3000 });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ allowed: false, remaining: 2500 });
    const ok = await request(app)
      .post('/usage/check-quota')
      .set('authorization', `Bearer ${alice}`)
      .send({ meter: 'requests', amount: 6 });
    expect(ok.body).toEqual({ allowed: true, remaining: 6 });
    // Cost is a USD decimal string both ways; this plan sets no cost limit.
    const cost = await request(app)
      .post('/usage/check-quota')
      .set('authorization', `Bearer ${alice}`)
      .send({ meter: 'cost', amount: '0.50' });
    expect(cost.body).toEqual({ allowed: true, remaining: null });
    const after = await request(app).get('/usage/quota').set('authorization', `Bearer ${alice}`);
    expect(after.body.quotas).toEqual(before.body.quotas);
  });

  describe('authorization', () => {
    it('gives a user their own usage by default and the tenant with scope=tenant', async () => {
      const own = await request(app).get('/usage/stats').set('authorization', `Bearer ${bob}`);
      expect(own.body.meters.find((m: { meter: string }) => m.meter === 'requests').amount).toBe(1);
      const tenant = await request(app)
        .get('/usage/stats?scope=tenant')
        .set('authorization', `Bearer ${bob}`);
      expect(tenant.body.meters.find((m: { meter: string }) => m.meter === 'requests').amount).toBe(6);
    });

    it.each([
      ['another user', '/usage/stats?userId=alice'],
      ['another tenant', '/usage/stats?tenantId=globex'],
      ['another user timeseries', '/usage/timeseries/requests?userId=alice'],
      ['another tenant export', '/usage/export.csv?tenantId=globex'],
      ['another user events', '/usage/events?userId=alice'],
      ['admin top', '/admin/usage/top'],
    ])('forbids a non-admin reading %s (403)', async (_what, url) => {
      const res = await request(app).get(url).set('authorization', `Bearer ${bob}`);
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    });

    it('never shows a tenantless token the usage of a tenant user with the same id', async () => {
      const loner = token({ sub: 'alice', tier: 'free' });
      const stats = await request(app).get('/usage/stats').set('authorization', `Bearer ${loner}`);
      expect(stats.status).toBe(200);
      const requests = stats.body.meters.find((m: { meter: string }) => m.meter === 'requests');
      expect(requests?.amount ?? 0).toBe(0);
      const events = await request(app).get('/usage/events').set('authorization', `Bearer ${loner}`);
      expect(events.body).toEqual([]);
      const csv = await request(app).get('/usage/export.csv').set('authorization', `Bearer ${loner}`);
      expect(csv.text).not.toContain('acme');
    });

    it('lets an admin read any tenant or user', async () => {
      const t = await request(app)
        .get('/usage/stats?tenantId=globex')
        .set('authorization', `Bearer ${admin}`);
      expect(t.status).toBe(200);
      expect(t.body.meters.find((m: { meter: string }) => m.meter === 'requests').amount).toBe(1);
      const u = await request(app)
        .get('/usage/stats?tenantId=acme&userId=alice')
        .set('authorization', `Bearer ${admin}`);
      expect(u.body.meters.find((m: { meter: string }) => m.meter === 'requests').amount).toBe(5);
      const top = await request(app)
        .get('/admin/usage/top?meter=requests&period=day')
        .set('authorization', `Bearer ${admin}`);
      expect(top.status).toBe(200);
      expect(top.body.top[0]).toMatchObject({ tenantId: 'acme', amount: 4 });
    });
  });

  describe('validation', () => {
    it.each([
      ['/usage/stats?days=0', 'days'],
      ['/usage/stats?days=367', 'days'],
      ['/usage/stats?days=abc', 'days'],
      ['/usage/stats?days=2.5', 'days'],
      ['/usage/stats?days=0x10', 'days'],
      ['/usage/stats?days=1e1', 'days'],
      ['/usage/stats?days=%205', 'days'],
      ['/usage/stats?days=5.0', 'days'],
      ['/usage/timeseries/tokens?days=0b11', 'days'],
      ['/usage/timeseries/widgets', 'meter'],
      ['/usage/timeseries/requests?interval=hour&days=30', 'days'],
      ['/usage/timeseries/requests?interval=week', 'interval'],
      ['/usage/export.csv?from=yesterday', 'from'],
      ['/usage/stats?bogus=1', 'bogus'],
    ])('rejects %s with 400 naming %s', async (url, field) => {
      const res = await request(app).get(url).set('authorization', `Bearer ${alice}`);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    });

    it.each([
      [{ meter: 'widgets', amount: 1 }, 'meter'],
      [{ meter: 'tokens', amount: -1 }, 'amount'],
      [{ meter: 'tokens', amount: 1.5 }, 'amount'],
      [{ meter: 'tokens' }, 'amount'],
      [{ meter: 'tokens', amount: '3' }, 'amount'],
      [{ meter: 'cost', amount: 1 }, 'amount'],
      [{ meter: 'cost', amount: '1.2.3' }, 'amount'],
    ])('rejects check-quota body %j with 400 naming %s', async (body, field) => {
      const res = await request(app)
        .post('/usage/check-quota')
        .set('authorization', `Bearer ${alice}`)
        .send(body);
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    });

    it('rejects malformed JSON with 400 and an oversized body with 413, recording nothing', async () => {
      const before = await request(app).get('/usage/quota').set('authorization', `Bearer ${alice}`);
      const bad = await request(app)
        .post('/usage/check-quota')
        .set('authorization', `Bearer ${alice}`)
        .set('content-type', 'application/json')
        .send('{"meter": "tokens", ');
      expect(bad.status).toBe(400);
      expect(bad.body.errors).toEqual([{ field: 'body', message: 'malformed JSON' }]);
      const big = await request(app)
        .post('/usage/check-quota')
        .set('authorization', `Bearer ${alice}`)
        .set('content-type', 'application/json')
        .send(JSON.stringify({ meter: 'tokens', amount: 1, pad: 'x'.repeat(1_100_000) }));
      expect(big.status).toBe(413);
      expect(big.headers['content-type']).toMatch(/^application\/problem\+json/);
      const after = await request(app).get('/usage/quota').set('authorization', `Bearer ${alice}`);
      expect(after.body.quotas).toEqual(before.body.quotas);
    });
  });

  it('exports exactly the caller ledger rows as CSV with a header row', async () => {
    const res = await request(app).get('/usage/export.csv').set('authorization', `Bearer ${alice}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    const lines = res.text.trim().split('\r\n');
    expect(lines[0]).toBe(
      'bucket_start,tenant_id,user_id,meter,model,amount,cost_usd,estimated,batch_id,recorded_at',
    );
    // Row for row: the same (meter, model, amount, exact cost, batch) tuples as the ledger holds.
    const header = lines[0]!.split(',');
    const col = (name: string) => header.indexOf(name);
    const fromCsv = lines
      .slice(1)
      .map((l) => l.split(','))
      .map((f) =>
        [
          f[col('meter')],
          f[col('model')],
          f[col('amount')],
          usdToPico(f[col('cost_usd')]!),
          f[col('batch_id')],
        ].join('|'),
      )
      .sort();
    const ledger = await sql.query<{
      meter: string;
      model: string | null;
      amount: string;
      cost: string;
      batch_id: string;
    }>(
      `SELECT meter, model, amount::text AS amount, cost_usd::text AS cost, batch_id FROM usage_ledger
        WHERE user_id = 'alice' AND tenant_id = 'acme'`,
    );
    const fromLedger = ledger.rows
      .map((r) => [r.meter, r.model ?? '', r.amount, usdToPico(r.cost), r.batch_id].join('|'))
      .sort();
    expect(fromCsv.length).toBeGreaterThan(5);
    expect(fromCsv).toEqual(fromLedger);
  });

  it('sets an override that is effective at once and recorded as an event', async () => {
    const res = await request(app)
      .put('/admin/quotas/tenant/globex')
      .set('authorization', `Bearer ${admin}`)
      .send({ meter: 'requests', period: 'day', limit: 1 });
    expect(res.status).toBe(200);
    const q = await request(app).get('/usage/quota').set('authorization', `Bearer ${eve}`);
    expect(q.body.quotas.requests.day).toMatchObject({ limit: 1, used: 1, remaining: 0, percentage: 100 });
    expect(q.body.anyExceeded).toBe(true);
    const admitted = await engine.consume(
      { tenantId: 'globex', userId: 'eve', plan: 'free' },
      { requests: 1 },
    );
    expect(admitted.admitted).toBe(false);
    const stored = await sql.query(
      `SELECT scope, id, meter, period, "limit"::int AS limit FROM quota_overrides WHERE id = 'globex'`,
    );
    expect(stored.rows).toEqual([
      { scope: 'tenant', id: 'globex', meter: 'requests', period: 'day', limit: 1 },
    ]);
    await flusher.flushOnce();
    const events = await request(app)
      .get('/usage/events?tenantId=globex')
      .set('authorization', `Bearer ${admin}`);
    const types = events.body.map((e: { type: string }) => e.type).sort();
    expect(types).toEqual(expect.arrayContaining(['override_set', 'quota_exceeded']));
    const forbidden = await request(app)
      .put('/admin/quotas/tenant/acme')
      .set('authorization', `Bearer ${bob}`)
      .send({ meter: 'requests', period: 'day', limit: 1000 });
    expect(forbidden.status).toBe(403);
    const badLimit = await request(app)
      .put('/admin/quotas/tenant/acme')
      .set('authorization', `Bearer ${admin}`)
      .send({ meter: 'requests', period: 'week', limit: -2 });
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['limit', 'period']);
  });

  it('takes a cost override above $9007 (2^53 pico-dollars) and refuses one no store can hold', async () => {
    const res = await request(app)
      .put('/admin/quotas/tenant/initech')
      .set('authorization', `Bearer ${admin}`)
      .send({ meter: 'cost', period: 'month', limit: '10000.00' });
    expect(res.status).toBe(200);
    const q = await request(app).get('/usage/quota?tenantId=initech').set('authorization', `Bearer ${admin}`);
    expect(q.status).toBe(200);
    expect(q.body.quotas.cost.month).toMatchObject({ limit: '10000.000000', used: '0.000000' });
    for (const limit of ['10000000.000001', '99999999999.00']) {
      const tooBig = await request(app)
        .put('/admin/quotas/tenant/initech')
        .set('authorization', `Bearer ${admin}`)
        .send({ meter: 'cost', period: 'month', limit });
      expect(tooBig.status).toBe(400);
      expect(tooBig.body.errors).toEqual([{ field: 'limit', message: 'is too large' }]);
    }
  });

  it('lists threshold events for the caller', async () => {
    for (let i = 0; i < 2; i++)
      await engine.consume({ tenantId: 'acme', userId: 'alice', plan: 'free' }, { requests: 1 });
    await flusher.flushOnce();
    const res = await request(app).get('/usage/events?scope=tenant').set('authorization', `Bearer ${alice}`);
    expect(res.status).toBe(200);
    const thresholds = res.body.filter((e: { type: string }) => e.type === 'threshold');
    expect(thresholds.map((e: { details: { threshold: number } }) => e.details.threshold)).toContain(50);
  });
});
