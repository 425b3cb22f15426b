// Regression: the usage API parsed a JSON body before it verified the caller, with JSON.parse's cost unbounded
// but for the 1 MiB limit. A client without credentials had its body parsed (malformed JSON answered 400, not 401),
// and 1 MiB of objects with fresh key names cost ~0.2 s of blocked event loop per request whoever sent it. Now the
// caller comes first and a body that would build more than the gateway bounds (json-structure.ts) is refused unparsed.
import express from 'express';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { MemoryStore, QuotaEngine, parseConfig } from '@tollgate/core';
import { migrate, openSqlClient, type SqlClient } from '@tollgate/ledger';
import { createTestDatabase } from '../../../../test-support/services';
import { MAX_JSON_SHAPES } from '../../src/json-structure';
import { createUsageApi, keyRoutes, usageErrorHandler } from '../../src/usage-api';
import { hs256Authenticate } from '../support/usage-auth';

const SECRET = 'usage-body-order-secret-0123456789';
const config = parseConfig({ plans: { free: { limits: { requests: { day: 100 } } } } });
const bob = jwt.sign({ sub: 'bob', tenant_id: 'acme', tier: 'free' }, SECRET, {
  algorithm: 'HS256',
  expiresIn: '1h',
});

/** About 1 MiB of objects of eight keys never used before. */
function freshKeys(): string {
  let k = 0;
  const objects: string[] = [];
  for (let size = 0; size < 1000 * 1024;) {
    const o = `{${Array.from({ length: 8 }, () => `"k${k++}":1`).join(',')}}`;
    objects.push(o);
    size += o.length + 1;
  }
  return `{"meter":"requests","amount":1,"x":[${objects.join(',')}]}`;
}

let db: { url: string; drop: () => Promise<void> };
let sql: SqlClient;
let app: express.Express;
let authenticated: number;

beforeAll(async () => {
  db = await createTestDatabase('usage_body_order');
  sql = await openSqlClient({ databaseUrl: db.url });
  await migrate(sql);
  const engine = new QuotaEngine({ store: new MemoryStore(), config });
  const verify = hs256Authenticate(SECRET);
  const authenticate = (req: express.Request) => {
    authenticated += 1;
    return verify(req);
  };
  app = express();
  app.use(keyRoutes({ sql, config, authenticate, onChange: () => undefined }));
  app.use(createUsageApi({ engine, sql, authenticate }));
  app.use(usageErrorHandler);
});
beforeEach(() => {
  authenticated = 0;
});
afterAll(async () => {
  await sql.close();
  await db.drop();
});

describe('the usage API verifies the caller before it parses a body', () => {
  it.each(['/usage/check-quota', '/usage/keys'])(
    'answers %s without credentials 401, malformed JSON unread',
    async (path) => {
      const res = await request(app).post(path).set('content-type', 'application/json').send('{"meter":');
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    },
  );

  it('refuses a caller 1 MiB of fresh-keyed objects with 413 before parsing, and verifies the caller once', async () => {
    const res = await request(app)
      .post('/usage/check-quota')
      .set('authorization', `Bearer ${bob}`)
      .set('content-type', 'application/json')
      .send(freshKeys());
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({
      status: 413,
      detail: `the body's objects spell more than ${MAX_JSON_SHAPES} distinct key sequences`,
    });
    expect(authenticated).toBe(1);
  });

  it('answers a key twice with 400 naming the body, and a UTF-16 body with 415 (its bytes would hide the structure)', async () => {
    const twice = await request(app)
      .post('/usage/check-quota')
      .set('authorization', `Bearer ${bob}`)
      .set('content-type', 'application/json')
      .send('{"meter":"requests","amount":1,"amount":2}');
    expect(twice.status).toBe(400);
    expect(twice.body.errors).toEqual([
      { field: 'body', message: 'the key "amount" appears twice in one object' },
    ]);
    const utf16 = await request(app)
      .post('/usage/check-quota')
      .set('authorization', `Bearer ${bob}`)
      .set('content-type', 'application/json; charset=utf-16le')
      .send(Buffer.from('{"meter":"requests","amount":1}', 'utf16le'));
    expect(utf16.status).toBe(415);
    expect(utf16.body).toMatchObject({
      status: 415,
      detail: 'charset "utf-16le" is not supported (use utf-8)',
    });
  });

  it('still answers a good body, verifying the caller once for the parser and the route', async () => {
    const res = await request(app)
      .post('/usage/check-quota')
      .set('authorization', `Bearer ${bob}`)
      .send({ meter: 'requests', amount: 1 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ allowed: true });
    expect(authenticated).toBe(1);
  });
});
