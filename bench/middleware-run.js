// Middleware overhead benchmark: GET /api/hello on loopback, bare framework vs + Tollgate (MemoryStore, RedisStore)
// vs + express-rate-limit/rate-limit-redis on the same Redis; interleaved rounds, each server in its own process,
// the load generator beside them: wrk (one thread) when it is installed, else autocannon in this process.
// Starts its own redis-server (a free port) unless REDIS_URL is set.
//
// Run: npm run build (or tsc -p each of packages/{core,redis,express,fastify}/tsconfig.build.json), then
//      node bench/middleware-run.js [--seconds 10] [--rounds 3] [--connections 50] [--rate 1000] [--latency-seconds N]
//                                   [--only express|fastify] [--tool wrk|autocannon]
//                                   [--variants bare,headers,deferred,memory,redis,batched,erl] [--before DIR]
// --before DIR adds `before`: the `redis` (delivered) server of another checkout, built (e.g. `git worktree add DIR
// <commit>`, then build it), in the same interleaved rounds, so a change is measured against what it changes.
//
// Two measures per run: throughput (autocannon, closed loop, `--connections`), and latency at a fixed rate
// (`--rate` req/s, open loop, far below saturation, timed with hrtime: autocannon's histogram has 1 ms steps,
// too coarse for "added p99 < 1 ms").
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');
const autocannon = require('autocannon');
const { benchRedis } = require('./own-redis');
const { HEADERS, latencyAtRate } = require('./fixed-rate');

function hasWrk() {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    // wrk --version exits 1 after printing its version.
    return err.status === 1;
  }
}

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
}
const SECONDS = Number(arg('seconds', 10));
const ROUNDS = Number(arg('rounds', 3));
const CONNECTIONS = Number(arg('connections', 50));
const ONLY = arg('only', null);
const RATE = Number(arg('rate', 1000));
// The fixed-rate phase's length (per server, per round); its samples are also pooled over rounds (see below).
const LATENCY_SECONDS = Number(arg('latency-seconds', SECONDS));

const DEFAULT_SUITES = {
  express: ['bare', 'headers', 'memory', 'redis', 'batched', 'erl'],
  fastify: ['bare', 'headers', 'memory', 'redis', 'batched'],
};
// `--variants` picks and orders them (`bare` is always run: every ratio is to it). `deferred` is the bare server
// with one middleware/hook that only defers the request to the event loop's check phase (setImmediate), as
// Tollgate's admissions do: on some days of this VM that alone makes a server cheaper per request, and the ratio
// to it shows Tollgate's own cost without that gain. `headers` is the bare server with one middleware/hook that
// only sets SPEC §10's two headers (`RateLimit-Policy`, `RateLimit`, values as Tollgate's): the floor for any
// middleware that sends them.
const BEFORE = arg('before', null);
const PICKED = arg('variants', null)?.split(',');
const UNKNOWN = (PICKED ?? []).filter((v) => v !== 'deferred' && !DEFAULT_SUITES.express.includes(v));
if (UNKNOWN.length > 0) {
  console.error(
    `unknown --variants: ${UNKNOWN.join(', ')} (known: bare, headers, deferred, memory, redis, batched, erl)`,
  );
  process.exit(2);
}
const SUITES = Object.fromEntries(
  Object.entries(DEFAULT_SUITES).map(([framework, variants]) => {
    const before = BEFORE ? ['before'] : [];
    if (PICKED === undefined) return [framework, [...variants, ...before]];
    const known = [...variants, 'deferred'];
    return [framework, ['bare', ...PICKED.filter((v) => v !== 'bare' && known.includes(v)), ...before]];
  }),
);
const LABELS = {
  bare: 'bare',
  headers: 'bare + the two RateLimit headers only',
  deferred: 'bare + next() deferred to setImmediate',
  memory: '+ trackUsage (MemoryStore)',
  redis: '+ trackUsage (RedisStore, delivered)',
  batched: '+ trackUsage (RedisStore, batched)',
  erl: '+ express-rate-limit + rate-limit-redis',
  before: `+ trackUsage (RedisStore, delivered), before (${BEFORE ? path.basename(BEFORE) : ''})`,
};

function startServer(framework, variant, redisUrl) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      variant === 'before'
        ? [path.join(path.resolve(BEFORE), 'bench', 'middleware-server.js'), framework, 'redis', redisUrl]
        : [path.join(__dirname, 'middleware-server.js'), framework, variant, redisUrl],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) resolve({ port: Number(m[1]), child });
    });
    child.once('exit', (code) => reject(new Error(`${framework}/${variant} exited with ${code}`)));
  });
}

const TOOL = arg('tool', hasWrk() ? 'wrk' : 'autocannon');

/** Parses wrk's `--latency` report into autocannon's result shape (req/s, p50/p99 in ms, totals, errors). */
function parseWrk(out) {
  const ms = (v, unit) => Number(v) * { us: 0.001, ms: 1, s: 1000 }[unit];
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([0-9.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    return m ? ms(m[1], m[2]) : NaN;
  };
  const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests: { average: Number(/Requests\/sec:\s+([0-9.]+)/.exec(out)?.[1] ?? NaN), total },
    latency: { p50: pct(50), p99: pct(99) },
    non2xx,
    errors: errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

function loadWrk(port, seconds) {
  return new Promise((resolve, reject) => {
    const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency'];
    for (const [k, v] of Object.entries(HEADERS)) args.push('-H', `${k}: ${v}`);
    args.push(`http://127.0.0.1:${port}/api/hello`);
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(parseWrk(out)) : reject(new Error(`wrk exited with ${code}`)),
    );
  });
}

function load(port, seconds) {
  if (TOOL === 'wrk') return loadWrk(port, seconds);
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}/api/hello`,
        connections: CONNECTIONS,
        duration: seconds,
        headers: HEADERS,
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

async function stats(port) {
  return (await fetch(`http://127.0.0.1:${port}/bench/stats`)).json();
}

/** redis-server's own CPU time so far, in µs (INFO cpu). */
async function redisCpuMicros(redisUrl) {
  const Redis = require('ioredis');
  const client = new Redis(redisUrl, { lazyConnect: true });
  try {
    await client.connect();
    const info = await client.info('cpu');
    const field = (name) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? 0);
    return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
  } finally {
    client.disconnect();
  }
}

async function measure(framework, variant, redisUrl) {
  const { port, child } = await startServer(framework, variant, redisUrl);
  try {
    await load(port, 1); // warm-up: JIT, connections, script cache
    const before = await stats(port);
    const redisBefore = await redisCpuMicros(redisUrl);
    const load1 = os.loadavg()[0];
    const r = await load(port, SECONDS);
    if (r.non2xx > 0 || r.errors > 0) {
      throw new Error(`${framework}/${variant}: ${r.non2xx} non-2xx, ${r.errors} errors`);
    }
    const mid = await stats(port);
    const redisCpu = (await redisCpuMicros(redisUrl)) - redisBefore;
    const fixed = await latencyAtRate(port, RATE, LATENCY_SECONDS);
    if (fixed.failed > 0) throw new Error(`${framework}/${variant}: ${fixed.failed} failed at ${RATE} req/s`);
    const after = await stats(port);
    return {
      rps: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      // CPU per request is steadier than req/s on a shared machine: it does not depend on who else runs.
      serverCpuPerRequest: (mid.cpuMicros - before.cpuMicros) / r.requests.total,
      redisCpuPerRequest: redisCpu / r.requests.total,
      fixedP50: fixed.p50,
      fixedP99: fixed.p99,
      fixedSamples: fixed.samples,
      degraded: after.degraded - before.degraded,
      storeOpsPerRequest: (mid.storeOps - before.storeOps) / r.requests.total,
      load1,
    };
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
}

function mean(xs) {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function median(xs) {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * p99 of every fixed-rate sample of every round together. A p99 from one round rests on its ~50 slowest samples,
 * which a single GC pause or scheduler hiccup of this shared machine can move by a millisecond; pooled over rounds
 * it rests on a few hundred.
 */
function pooledP99(ms) {
  const all = ms.flatMap((m) => m.fixedSamples).sort((a, b) => a - b);
  return all[Math.min(all.length - 1, Math.floor(0.99 * all.length))];
}

/**
 * A round's saturated p99 as it would be at bare's throughput of that round. In a closed loop with N connections,
 * Little's law fixes the mean latency at N / (req/s), and the tail moves with it (across rounds and variants of this
 * bench, p99 x req/s stays within about +-10 % of a constant): a server that serves 5 % fewer requests shows a 5 %
 * longer p99 with no latency of its own. Scaling by the round's req/s ratio leaves the part of the tail that
 * throughput does not explain; the throughput itself is judged by the ratio to bare.
 */
function p99AtBareRate(m, bareRound) {
  return (m.p99 * m.rps) / bareRound.rps;
}

/** `median (min-max)` of per-round values: each round's variant against that round's bare run. */
function spread(xs, digits) {
  return `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;
}

async function main() {
  const redis = await benchRedis();
  const frameworks = ONLY ? [ONLY] : Object.keys(SUITES);
  const results = {};
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const framework of frameworks) {
        for (const variant of SUITES[framework]) {
          const m = await measure(framework, variant, redis.url);
          ((results[framework] ??= {})[variant] ??= []).push(m);
          console.error(
            `round ${round} ${framework.padEnd(7)} ${variant.padEnd(6)} ${m.rps.toFixed(0)} req/s ` +
              `p50 ${m.p50.toFixed(2)} ms p99 ${m.p99.toFixed(2)} ms | at ${RATE}/s p50 ${m.fixedP50.toFixed(3)} ms ` +
              `p99 ${m.fixedP99.toFixed(3)} ms | CPU/req server ${m.serverCpuPerRequest.toFixed(1)} µs ` +
              `redis ${m.redisCpuPerRequest.toFixed(1)} µs | store ops/req ${m.storeOpsPerRequest.toFixed(3)} | ` +
              `degraded ${m.degraded} load ${m.load1.toFixed(1)}`,
          );
        }
      }
    }
  } finally {
    await redis.stop();
  }
  const loads = frameworks.flatMap((f) => Object.values(results[f]).flatMap((ms) => ms.map((m) => m.load1)));
  console.log(
    `\nGET /api/hello, ${ROUNDS} interleaved rounds of ${SECONDS} s, ${TOOL}, ${CONNECTIONS} connections, ` +
      `Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), ` +
      `1-min load average at the start of the runs ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}\n`,
  );
  for (const framework of frameworks) {
    const bare = mean(results[framework].bare.map((m) => m.rps));
    const bareP99 = mean(results[framework].bare.map((m) => m.p99));
    const bareFixedP99 = mean(results[framework].bare.map((m) => m.fixedP99));
    const barePooledP99 = pooledP99(results[framework].bare);
    console.log(
      `| ${framework} | req/s (mean) | ratio to bare | ratio per round: median (min-max) | p50 / p99 ms (saturated) | p99 added | ` +
        `p50 / p99 ms at ${RATE}/s | p99 added at ${RATE}/s | p99 added at ${RATE}/s per round: median (min-max) | ` +
        `pooled p99 at ${RATE}/s (added) | saturated p99 at bare's req/s, added per round: median (min-max) | ` +
        `CPU µs/req server + redis | store ops/req | degraded | rounds (req/s) |`,
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    const bareRuns = results[framework].bare;
    for (const variant of SUITES[framework]) {
      const ms = results[framework][variant];
      const rps = mean(ms.map((m) => m.rps));
      const p99 = mean(ms.map((m) => m.p99));
      const fixedP99 = mean(ms.map((m) => m.fixedP99));
      console.log(
        `| ${LABELS[variant]} | ${rps.toFixed(0)} | ${(rps / bare).toFixed(3)} | ` +
          `${spread(
            ms.map((m, i) => m.rps / bareRuns[i].rps),
            3,
          )} | ` +
          `${mean(ms.map((m) => m.p50)).toFixed(1)} / ${p99.toFixed(1)} | ${(p99 - bareP99).toFixed(1)} | ` +
          `${mean(ms.map((m) => m.fixedP50)).toFixed(3)} / ${fixedP99.toFixed(3)} | ` +
          `${(fixedP99 - bareFixedP99).toFixed(3)} | ` +
          `${spread(
            ms.map((m, i) => m.fixedP99 - bareRuns[i].fixedP99),
            3,
          )} | ${pooledP99(ms).toFixed(3)} (${(pooledP99(ms) - barePooledP99).toFixed(3)}) | ` +
          `${spread(
            ms.map((m, i) => p99AtBareRate(m, bareRuns[i]) - bareRuns[i].p99),
            1,
          )} | ` +
          `${mean(ms.map((m) => m.serverCpuPerRequest)).toFixed(1)} + ` +
          `${mean(ms.map((m) => m.redisCpuPerRequest)).toFixed(1)} | ` +
          `${mean(ms.map((m) => m.storeOpsPerRequest ?? 0)).toFixed(3)} | ${ms.reduce((a, m) => a + m.degraded, 0)} | ` +
          `${ms.map((m) => m.rps.toFixed(0)).join(', ')} |`,
      );
    }
    console.log('');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
