// Side-by-side CPU cost per request of middleware-bench server variants, with the server pinned to CPU 0 and wrk to
// CPU 1 (taskset), so the load generator does not share the server's core: the server's own CPU time per request,
// over interleaved rounds, is steadier on this shared VM than req/s. Each spec is `label=variant`, optionally with
// environment settings for that server: `label=variant+NAME~value` (e.g. BENCH_TG_OPTIONS~{"leaseMs":50}).
//
// Run: npm run build, then (needs wrk and taskset; a Redis at REDIS_URL, default redis://127.0.0.1:6379)
//      node bench/pinned-ab.js <express|fastify> <rounds> <seconds> bare=bare now=redis 'slow=redis+BENCH_TG_OPTIONS~{"usageBatchMs":50}'
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const path = require('node:path');
const { HEADERS } = require('./fixed-rate');

const [framework, rounds, seconds, ...specs] = process.argv.slice(2);
if (
  !['express', 'fastify'].includes(framework) ||
  !(Number(rounds) > 0) ||
  !(Number(seconds) > 0) ||
  !specs.length
) {
  console.error(
    'usage: node bench/pinned-ab.js <express|fastify> <rounds> <seconds> label=variant[+NAME~value]...',
  );
  process.exit(2);
}
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SERVER = path.join(__dirname, 'middleware-server.js');
const WRK_HEADERS = Object.entries(HEADERS).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);

function parseSpec(spec) {
  const [label, rest] = spec.split('=');
  const [variant, ...settings] = rest.split('+');
  const env = { ...process.env };
  for (const s of settings) {
    const i = s.indexOf('~');
    env[s.slice(0, i)] = s.slice(i + 1);
  }
  return { label, variant, env };
}

function start({ variant, env }) {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', '0', process.execPath, SERVER, framework, variant, REDIS_URL], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/READY (\d+)/);
      if (m) resolve({ child, port: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`${variant} server exited with ${code}`)));
  });
}

async function serverCpuMicros(port) {
  const res = await fetch(`http://127.0.0.1:${port}/bench/stats`);
  return (await res.json()).cpuMicros;
}

function wrk(port, secs) {
  const out = execFileSync('taskset', [
    '-c',
    '1',
    'wrk',
    '-t1',
    '-c50',
    `-d${secs}s`,
    ...WRK_HEADERS,
    `http://127.0.0.1:${port}/api/hello`,
  ]).toString();
  return {
    requests: Number(out.match(/(\d+) requests in/)[1]),
    rps: Number(out.match(/Requests\/sec:\s+([\d.]+)/)[1]),
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

(async () => {
  const parsed = specs.map(parseSpec);
  const results = new Map(parsed.map((p) => [p.label, []]));
  for (let round = 0; round < Number(rounds); round++) {
    // Alternate the order, so no variant always runs first.
    for (const p of round % 2 ? [...parsed].reverse() : parsed) {
      const { child, port } = await start(p);
      child.removeAllListeners('exit');
      wrk(port, 2); // warm-up
      const before = await serverCpuMicros(port);
      const run = wrk(port, Number(seconds));
      const after = await serverCpuMicros(port);
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      const us = (after - before) / run.requests;
      results.get(p.label).push({ us, rps: run.rps });
      console.error(`round ${round} ${p.label}: ${us.toFixed(2)} µs/req, ${run.rps.toFixed(0)} req/s`);
    }
  }
  console.log(
    `| variant | server CPU µs/req, median | req/s, median | each round (µs/req) |\n|---|---:|---:|---|`,
  );
  for (const [label, rs] of results) {
    const us = rs.map((r) => r.us);
    console.log(
      `| ${label} | ${median(us).toFixed(2)} | ${median(rs.map((r) => r.rps)).toFixed(0)} | ${us.map((u) => u.toFixed(2)).join(' ')} |`,
    );
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
