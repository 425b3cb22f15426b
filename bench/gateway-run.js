// Gateway benchmark: the test upstream directly vs a bare http-proxy-middleware proxy vs the Tollgate gateway
// (JWT + identity headers + metering on Redis), in interleaved rounds, each server in its own process and
// autocannon in this one. Two workloads: GET /api/hello and POST /api/v1/chat/completions (tokens metered).
// Starts its own redis-server; the gateway's ledger is a fresh database on DATABASE_URL (dropped after).
//
// Run: npm run build, then node bench/gateway-run.js [--seconds 10] [--rounds 3] [--connections 50] [--before DIR]
// --before DIR adds the gateway built in another checkout (e.g. `git worktree add DIR <commit>` + build) as `before`.
'use strict';
const { startOwnRedis } = require('./own-redis');
const { createDatabase, startServer, cpuUs, mean, cpuCell } = require('./gateway-bench-kit');
const { mkdirSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const autocannon = require('autocannon');
const jwt = require('jsonwebtoken');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
}
const SECONDS = Number(arg('seconds', 10));
const ROUNDS = Number(arg('rounds', 3));
const CONNECTIONS = Number(arg('connections', 50));
const SECRET = 'bench-jwt-secret-0123456789abcdef';
const TOKEN = jwt.sign({ sub: 'bench-user', tenant_id: 'bench-tenant', tier: 'free' }, SECRET, {
  expiresIn: '1h',
});

const BEFORE = arg('before', null);
const TARGETS = ['upstream', 'bare', 'raw', ...(BEFORE ? ['before'] : []), 'gateway'];
const LABELS = {
  upstream: 'upstream directly',
  bare: 'bare proxy: Express 5 + http-proxy-middleware',
  raw: '(reference) http-proxy-middleware on node:http, no Express',
  before: `Tollgate gateway, before (${BEFORE ? path.basename(BEFORE) : ''})`,
  gateway: 'Tollgate gateway (JWT + Redis metering)',
};
const WORKLOADS = {
  hello: { method: 'GET', path: '/api/hello' },
  chat: {
    method: 'POST',
    path: '/api/v1/chat/completions',
    body: JSON.stringify({ model: 'gpt-4o', max_tokens: 16, messages: [{ role: 'user', content: 'ping' }] }),
  },
};

function load(port, workload, seconds) {
  const w = WORKLOADS[workload];
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}${w.path}`,
        method: w.method,
        body: w.body,
        connections: CONNECTIONS,
        duration: seconds,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

async function main() {
  const redis = await startOwnRedis();
  const db = await createDatabase('gateway');
  const servers = {};
  try {
    servers.upstream = await startServer('upstream');
    const upstreamUrl = `http://127.0.0.1:${servers.upstream.port}`;
    servers.bare = await startServer('bare', upstreamUrl);
    servers.raw = await startServer('raw', upstreamUrl);
    if (BEFORE) servers.before = await startServer('gateway', upstreamUrl, redis.url, db.url, BEFORE);
    servers.gateway = await startServer('gateway', upstreamUrl, redis.url, db.url);
    const results = {};
    for (const workload of Object.keys(WORKLOADS)) {
      for (const target of TARGETS) {
        const warm = await load(servers[target].port, workload, 2); // JIT, keep-alive sockets, script cache
        if (warm.non2xx > 0) throw new Error(`${target}/${workload}: ${warm.non2xx} non-2xx during warm-up`);
      }
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const workload of Object.keys(WORKLOADS)) {
        for (const target of TARGETS) {
          const pid = servers[target].child.pid;
          const cpu0 = cpuUs(pid);
          const redis0 = cpuUs(redis.pid);
          const r = await load(servers[target].port, workload, SECONDS);
          const cpu = cpu0 === null ? null : (cpuUs(pid) - cpu0) / r.requests.total;
          const redisCpu = redis0 === null ? null : (cpuUs(redis.pid) - redis0) / r.requests.total;
          if (r.non2xx > 0 || r.errors > 0)
            throw new Error(`${target}/${workload}: ${r.non2xx} non-2xx, ${r.errors} errors`);
          const m = { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, cpu, redisCpu };
          ((results[workload] ??= {})[target] ??= []).push(m);
          console.error(
            `round ${round} ${workload.padEnd(5)} ${target.padEnd(8)} ${m.rps.toFixed(0)} req/s p50 ${m.p50} ms p99 ${m.p99} ms` +
              ` cpu ${cpu?.toFixed(0)} us/req redis ${redisCpu?.toFixed(0)} us/req`,
          );
        }
      }
    }
    const header =
      `${ROUNDS} interleaved rounds of ${SECONDS} s, ${CONNECTIONS} connections, Node ${process.version}, ` +
      `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'})`;
    console.log(`\n${header}\n`);
    for (const workload of Object.keys(WORKLOADS)) {
      const w = WORKLOADS[workload];
      const bare = mean(results[workload].bare.map((m) => m.rps));
      console.log(`${w.method} ${w.path}\n`);
      console.log(
        '| target | req/s (mean) | ratio to bare proxy | p50 ms | p99 ms | server CPU µs/req | Redis CPU µs/req | rounds (req/s) |',
      );
      console.log('|---|---:|---:|---:|---:|---:|---:|---|');
      for (const target of TARGETS) {
        const ms = results[workload][target];
        const rps = mean(ms.map((m) => m.rps));
        console.log(
          `| ${LABELS[target]} | ${rps.toFixed(0)} | ${(rps / bare).toFixed(3)} | ${mean(ms.map((m) => m.p50)).toFixed(2)} | ` +
            `${mean(ms.map((m) => m.p99)).toFixed(2)} | ${cpuCell(ms.map((m) => m.cpu))} | ${cpuCell(ms.map((m) => m.redisCpu))} | ` +
            `${ms.map((m) => m.rps.toFixed(0)).join(', ')} |`,
        );
      }
      console.log('');
    }
    // Degraded admissions skip Redis: the run only counts if there were none.
    const metrics = await (await fetch(`http://127.0.0.1:${servers.gateway.port}/metrics`)).text();
    const degraded = /tollgate_degraded_responses_total (\d+)/.exec(metrics)?.[1] ?? '0';
    console.log(`gateway responses served degraded (store timeout, fail-open): ${degraded}`);
    const dir = path.join(__dirname, 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `gateway-${Date.now()}.json`), JSON.stringify({ header, results }, null, 2));
  } finally {
    for (const s of Object.values(servers)) s.child.kill('SIGKILL');
    await redis.stop();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
