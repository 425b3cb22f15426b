// API key authentication vs JWT authentication through one Tollgate gateway (metering on Redis), in interleaved
// rounds: GET /api/hello with a cached HS256 JWT, with `X-API-Key: tg_...` and with `Authorization: Bearer tg_...`.
// The key is created through POST /admin/keys first, so every measured request is a known key (no database look-up;
// the target is a known key costing no more than a cached JWT). Starts its own redis-server; the ledger is a fresh
// database on DATABASE_URL (dropped after).
//
// Run: npm run build, then node bench/keys-vs-jwt.js [--seconds 10] [--rounds 3] [--connections 50]
'use strict';
const os = require('node:os');
const autocannon = require('autocannon');
const jwt = require('jsonwebtoken');
const { startOwnRedis } = require('./own-redis');
const { createDatabase, startServer, cpuUs, mean, cpuCell } = require('./gateway-bench-kit');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
}
const SECONDS = Number(arg('seconds', 10));
const ROUNDS = Number(arg('rounds', 3));
const CONNECTIONS = Number(arg('connections', 50));
// The secret bench/gateway-server.js configures.
const SECRET = 'bench-jwt-secret-0123456789abcdef';
const USER = { sub: 'bench-user', tenant_id: 'bench-tenant', tier: 'free' };
const TOKEN = jwt.sign(USER, SECRET, { expiresIn: '1h' });
const ADMIN = jwt.sign({ sub: 'bench-admin', role: 'admin' }, SECRET, { expiresIn: '1h' });

function load(port, headers, seconds) {
  return new Promise((resolve, reject) => {
    autocannon(
      { url: `http://127.0.0.1:${port}/api/hello`, connections: CONNECTIONS, duration: seconds, headers },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

async function main() {
  const redis = await startOwnRedis();
  const db = await createDatabase('keys');
  const servers = [];
  try {
    const upstream = await startServer('upstream');
    servers.push(upstream);
    const gateway = await startServer('gateway', `http://127.0.0.1:${upstream.port}`, redis.url, db.url);
    servers.push(gateway);
    const created = await fetch(`http://127.0.0.1:${gateway.port}/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', tenantId: USER.tenant_id, userId: USER.sub, tier: USER.tier }),
    });
    if (created.status !== 201)
      throw new Error(`creating the key: HTTP ${created.status} ${await created.text()}`);
    const { key } = await created.json();
    const targets = {
      jwt: { label: 'JWT (HS256, cached)', headers: { authorization: `Bearer ${TOKEN}` } },
      'x-api-key': { label: 'API key, X-API-Key', headers: { 'x-api-key': key } },
      'bearer-key': { label: 'API key, Authorization: Bearer', headers: { authorization: `Bearer ${key}` } },
    };
    for (const [name, t] of Object.entries(targets)) {
      const warm = await load(gateway.port, t.headers, Math.min(2, SECONDS)); // JIT, sockets, caches
      if (warm.non2xx > 0) throw new Error(`${name}: ${warm.non2xx} non-2xx during warm-up`);
    }
    const results = {};
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, t] of Object.entries(targets)) {
        const cpu0 = cpuUs(gateway.child.pid);
        const r = await load(gateway.port, t.headers, SECONDS);
        if (r.non2xx > 0 || r.errors > 0) throw new Error(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
        const cpu = cpu0 === null ? null : (cpuUs(gateway.child.pid) - cpu0) / r.requests.total;
        const m = { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, cpu };
        (results[name] ??= []).push(m);
        console.error(
          `round ${round} ${name.padEnd(10)} ${m.rps.toFixed(0)} req/s p50 ${m.p50} ms p99 ${m.p99} ms cpu ${cpu?.toFixed(0)} us/req`,
        );
      }
    }
    console.log(
      `\n${ROUNDS} interleaved rounds of ${SECONDS} s, ${CONNECTIONS} connections, GET /api/hello, Node ${process.version}, ` +
        `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'})\n`,
    );
    console.log(
      '| credential | req/s (mean) | ratio to JWT | p50 ms | p99 ms | gateway CPU µs/req | rounds (req/s) |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---|');
    const base = mean(results.jwt.map((m) => m.rps));
    for (const [name, t] of Object.entries(targets)) {
      const ms = results[name];
      const rps = mean(ms.map((m) => m.rps));
      console.log(
        `| ${t.label} | ${rps.toFixed(0)} | ${(rps / base).toFixed(3)} | ${mean(ms.map((m) => m.p50)).toFixed(2)} | ` +
          `${mean(ms.map((m) => m.p99)).toFixed(2)} | ${cpuCell(ms.map((m) => m.cpu))} | ${ms.map((m) => m.rps.toFixed(0)).join(', ')} |`,
      );
    }
    const metrics = await (await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).text();
    const degraded = /tollgate_degraded_responses_total (\d+)/.exec(metrics)?.[1] ?? '0';
    console.log(`\ngateway responses served degraded (store timeout, fail-open): ${degraded}`);
  } finally {
    for (const s of servers) s.child.kill('SIGKILL');
    await redis.stop();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
