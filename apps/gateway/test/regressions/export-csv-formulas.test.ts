// Regression: GET /usage/export.csv sent `x;=1+1` unquoted (a formula where `;` separates fields) and ` =1+1` and
// `＝1+1` without the `'` that keeps a spreadsheet from running them; a gauge's -5 must stay the number -5.
import express from 'express';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { MemoryStore, QuotaEngine, parseConfig } from '@tollgate/core';
import { Flusher, migrate, openSqlClient, type SqlClient } from '@tollgate/ledger';
import { createTestDatabase } from '../../../../test-support/services';
import { createUsageApi, usageErrorHandler } from '../../src/usage-api';
import { hs256Authenticate } from '../support/usage-auth';

const SECRET = 'export-csv-formulas-0123456789';

describe('GET /usage/export.csv with formula-like ids and models', () => {
  let db: { url: string; drop: () => Promise<void> };
  let sql: SqlClient;
  let app: express.Express;

  beforeAll(async () => {
    db = await createTestDatabase('csv_formulas_api');
    sql = await openSqlClient({ databaseUrl: db.url });
    await migrate(sql);
    const store = new MemoryStore();
    const config = parseConfig({
      meters: { storage_bytes: { kind: 'gauge' } },
      plans: { free: { limits: {} } },
    });
    const engine = new QuotaEngine({ store, config });
    await engine.record({ tenantId: 'x;=1+1', userId: ' =1+1' }, [
      { meter: 'storage_bytes', amount: -5 },
      { meter: 'output_tokens', amount: 3, model: '\uff1d1+1' },
    ]);
    await new Flusher({ store, sql, intervalMs: 60_000 }).flushOnce();
    await store.close();
    app = express();
    app.use(createUsageApi({ engine, sql, authenticate: hs256Authenticate(SECRET) }));
    app.use(usageErrorHandler);
  });
  afterAll(async () => {
    await sql.close();
    await db.drop();
  });

  it('quotes ; fields, prefixes formulas with an apostrophe, and keeps -5 a number', async () => {
    const token = jwt.sign({ sub: ' =1+1', tenant_id: 'x;=1+1' }, SECRET, { algorithm: 'HS256' });
    const res = await request(app).get('/usage/export.csv').set('authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    const rows = res.text.split('\r\n').filter((l) => l !== '');
    expect(rows).toHaveLength(4); // header, storage_bytes, output_tokens and the tokens they add up to
    const lead = (meter: string) =>
      rows
        .find((l) => l.includes(`,${meter},`))!
        .split(',')
        .slice(1, 8)
        .join(',');
    expect(lead('storage_bytes')).toBe(`"x;=1+1",' =1+1,storage_bytes,,-5,0.000000,false`);
    expect(lead('output_tokens')).toBe(`"x;=1+1",' =1+1,output_tokens,'\uff1d1+1,3,0.000000,false`);
  });
});
