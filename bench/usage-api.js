// Usage API latency with 1M ledger rows (1000 subjects x 90 days) and dashboard load time. Loopback only, bounded.
// Run: npm run build && node bench/usage-api.js [seconds-per-endpoint]
'use strict';
const http = require('node:http');
const { randomBytes } = require('node:crypto');
const autocannon = require('autocannon');
const express = require('express');
const jwt = require('jsonwebtoken');
const { Client } = require('pg');
const { MemoryStore, QuotaEngine, parseConfig } = require('@tollgate/core');
const { migrate, openSqlClient, PartitionManager } = require('@tollgate/ledger');
const { createUsageApi, usageErrorHandler } = require('@tollgate/gateway/dist/usage-api');

const SECONDS = Number(process.argv[2] ?? 10);
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SECRET = 'bench-secret-0123456789abcdef';
const SUBJECTS = 1000;
const ROWS_PER_SUBJECT = 1000;

function dbUrl(name) {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin(sqlText) {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    await c.query(sqlText);
  } finally {
    await c.end();
  }
}

function token(i) {
  return jwt.sign({ sub: `u${i}`, tenant_id: `t${i % 100}`, tier: 'free' }, SECRET, {
    algorithm: 'HS256',
    expiresIn: '1h',
  });
}

async function load(url, path, tokens) {
  let n = 0;
  const result = await autocannon({
    url: url + path,
    connections: Number(process.env.BENCH_CONNECTIONS ?? 4),
    duration: SECONDS,
    requests: [
      {
        setupRequest: (req) => {
          n += 1;
          return {
            ...req,
            headers: { ...req.headers, authorization: `Bearer ${tokens[n % tokens.length]}` },
          };
        },
      },
    ],
  });
  if (result.non2xx > 0) throw new Error(`${path}: ${result.non2xx} non-2xx responses`);
  return {
    path,
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
  };
}

async function dashboardLoads(base, tok, runs) {
  let chromium;
  try {
    ({ chromium } = require('playwright-core'));
  } catch {
    return null;
  }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const times = [];
  try {
    for (let i = 0; i < runs; i++) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await ctx.newPage();
      const t0 = Date.now();
      await page.goto(`${base}/dashboard#token=${tok}`);
      await page.waitForSelector('body[data-loaded="true"]');
      times.push(Date.now() - t0);
      await ctx.close();
    }
  } finally {
    await browser.close();
  }
  times.sort((a, b) => a - b);
  return { runs, median: times[Math.floor(runs / 2)], p90: times[Math.floor(runs * 0.9)], first: times[0] };
}

async function main() {
  const name = `tg_bench_usage_${randomBytes(3).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const sql = await openSqlClient({ databaseUrl: dbUrl(name) });
  let server;
  try {
    await migrate(sql);
    const now = Date.now();
    const buckets = [];
    for (let h = 0; h <= 24 * 91; h += 24) buckets.push(now - h * 3_600_000);
    await new PartitionManager(sql).ensureFor(buckets);
    const t0 = Date.now();
    await sql.query(`
      INSERT INTO usage_ledger (tenant_id, user_id, meter, model, amount, cost_usd, bucket_start, batch_id, batch_row)
      SELECT 't' || (s % 100), 'u' || s,
             (ARRAY['requests','input_tokens','output_tokens','tokens','latency_ms'])[1 + k % 5],
             CASE WHEN k % 5 IN (1, 2, 3) THEN 'openai/gpt-4o' END,
             1 + (k % 17),
             CASE WHEN k % 5 = 1 THEN 0.0000025 * (1 + k % 17) WHEN k % 5 = 2 THEN 0.00001 * (1 + k % 17) ELSE 0 END,
             date_trunc('hour', now()) - ((k % 2160) * interval '1 hour'),
             'bench-' || s, k
      FROM generate_series(0, ${SUBJECTS - 1}) s, generate_series(1, ${ROWS_PER_SUBJECT}) k`);
    await sql.exec('ANALYZE usage_ledger');
    const seeded = await sql.query('SELECT count(*)::int AS n FROM usage_ledger');
    console.log(
      `seeded ${seeded.rows[0].n} ledger rows for ${SUBJECTS} subjects over 90 days in ${Date.now() - t0} ms`,
    );

    const config = parseConfig({
      plans: { free: { limits: { requests: { day: 1000 }, tokens: { day: 100000 } } } },
    });
    const engine = new QuotaEngine({ store: new MemoryStore(), config });
    const app = express();
    app.use(
      createUsageApi({
        engine,
        sql,
        authenticate: (req) => {
          const c = jwt.verify(req.headers.authorization.slice(7), SECRET, { algorithms: ['HS256'] });
          return { userId: c.sub, tenantId: c.tenant_id, tier: c.tier, role: null, email: null };
        },
      }),
    );
    app.use(usageErrorHandler);
    server = http.createServer(app);
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${server.address().port}`;
    const tokens = Array.from({ length: 200 }, (_, i) => token(i * 5));

    const results = [];
    results.push(await load(base, '/usage/stats?days=30', tokens));
    results.push(await load(base, '/usage/stats?days=90', tokens));
    results.push(await load(base, '/usage/timeseries/tokens?days=90', tokens));
    results.push(await load(base, '/usage/timeseries/requests?days=30', tokens));
    results.push(await load(base, '/usage/stats?days=30&scope=tenant', tokens));
    console.log('\n| endpoint | req/s | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|');
    for (const r of results) console.log(`| \`${r.path}\` | ${r.rps} | ${r.p50} | ${r.p99} | ${r.max} |`);
    const dash = await dashboardLoads(base, tokens[0], 10);
    if (dash)
      console.log(
        `\ndashboard load to cards and chart rendered (${dash.runs} fresh loads): median ${dash.median} ms, p90 ${dash.p90} ms, fastest ${dash.first} ms`,
      );
  } finally {
    if (server) await new Promise((r) => server.close(r));
    await sql.close();
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
