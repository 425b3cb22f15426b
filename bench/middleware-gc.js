// Garbage per request behind the latency tail: each middleware-bench server variant at a fixed request rate, its
// young-generation collections read from V8's own trace (--trace-gc-nvp). Allocation per request is close to
// deterministic, so it separates variants that the p99 (a cliff: see bench/HISTORY.md) and req/s (±15 % per round on
// a shared VM) cannot.
//
// Run: npm run build, then
//      node bench/middleware-gc.js [--framework express|fastify] [--variants bare,memory,redis] [--rate 1000]
//                                  [--seconds 10] [--rounds 2] [--heap-profile DIR]
// BENCH_TG_OPTIONS='{"usageBatchMs":100}' passes options to Tollgate (see middleware-server.js).
// --heap-profile writes one sampling heap profile per variant (open it in Chrome DevTools, Memory tab). It counts
// objects the scavenger collected too (includeObjectsCollectedByMinorGC), without which a profile shows only what
// survived and misses nearly all per-request garbage.
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');
const { latencyAtRate } = require('./fixed-rate');
const { benchRedis } = require('./own-redis');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
}
const FRAMEWORK = arg('framework', 'express');
const VARIANTS = arg('variants', 'bare,memory,redis').split(',');
const RATE = Number(arg('rate', 1000));
const SECONDS = Number(arg('seconds', 10));
const ROUNDS = Number(arg('rounds', 2));
const HEAP_DIR = arg('heap-profile', null);

// Loaded in the server process (node -r) when --heap-profile is given: sampling starts on SIGHUP, and SIGUSR2
// writes the profile to BENCH_HEAP_OUT and exits.
const HEAP_HOOK = path.join(__dirname, 'middleware-gc-heap-hook.js');

function startServer(variant, redisUrl, heapOut) {
  const execArgv = ['--trace-gc-nvp'];
  if (heapOut) execArgv.push('-r', HEAP_HOOK);
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...execArgv, path.join(__dirname, 'middleware-server.js'), FRAMEWORK, variant, redisUrl],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BENCH_HEAP_OUT: heapOut ?? '' } },
    );
    const server = { child, port: 0, measuring: false, scavenges: [] };
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      let nl;
      while ((nl = out.indexOf('\n')) !== -1) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const ready = /READY (\d+)/.exec(line);
        if (ready) {
          server.port = Number(ready[1]);
          resolve(server);
        } else if (server.measuring && / gc=s /.test(line)) {
          server.scavenges.push(line);
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`${FRAMEWORK}/${variant} exited with ${code}`)));
  });
}

/** Sends RATE req/s for `seconds`; resolves with the number of failed requests. */
async function atRate(port, seconds) {
  return (await latencyAtRate(port, RATE, seconds)).failed;
}

const field = (line, name) => Number(new RegExp(`\\b${name}=([0-9.]+)`).exec(line)?.[1] ?? NaN);
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

async function measure(variant, redisUrl, round) {
  const heapOut = HEAP_DIR && round === 0 ? path.join(HEAP_DIR, `${FRAMEWORK}-${variant}.heapprofile`) : null;
  const server = await startServer(variant, redisUrl, heapOut);
  try {
    if ((await atRate(server.port, 2)) > 0) throw new Error(`${variant}: failed requests in the warm-up`);
    if (heapOut) server.child.kill('SIGHUP');
    server.measuring = true;
    const failed = await atRate(server.port, SECONDS);
    server.measuring = false;
    if (failed > 0) throw new Error(`${variant}: ${failed} failed requests`);
    if (heapOut) {
      server.child.removeAllListeners('exit');
      const exited = new Promise((r) => server.child.once('exit', r));
      server.child.kill('SIGUSR2');
      await exited;
    }
    const s = server.scavenges;
    const requests = RATE * SECONDS;
    return {
      scavenges: s.length,
      allocatedPerRequest: sum(s.map((l) => field(l, 'allocated'))) / requests,
      survivedPerRequest: sum(s.map((l) => field(l, 'new_space_survived'))) / requests,
      pauseMs: s.map((l) => field(l, 'pause')),
    };
  } finally {
    server.child.removeAllListeners('exit');
    server.child.kill('SIGKILL');
  }
}

async function main() {
  const redis = await benchRedis();
  const results = Object.fromEntries(VARIANTS.map((v) => [v, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const variant of VARIANTS) {
        const m = await measure(variant, redis.url, round);
        results[variant].push(m);
        console.error(
          `round ${round} ${variant}: ${(m.allocatedPerRequest / 1000).toFixed(1)} KB/req allocated, ` +
            `${m.scavenges} scavenges`,
        );
      }
    }
  } finally {
    await redis.stop();
  }
  console.log(
    `\n${FRAMEWORK}, GET /api/hello at ${RATE} req/s, ${ROUNDS} x ${SECONDS} s per variant, Node ${process.version}\n`,
  );
  console.log(
    '| variant | KB allocated / request | scavenges / 10 s | scavenge pause ms: mean (max) | KB surviving a scavenge / request |',
  );
  console.log('|---|---:|---:|---:|---:|');
  for (const [variant, ms] of Object.entries(results)) {
    const pauses = ms.flatMap((m) => m.pauseMs);
    const per10s = (sum(ms.map((m) => m.scavenges)) / ms.length) * (10 / SECONDS);
    console.log(
      `| ${variant} | ${(sum(ms.map((m) => m.allocatedPerRequest)) / ms.length / 1000).toFixed(1)} | ${per10s.toFixed(1)} | ` +
        `${(sum(pauses) / pauses.length).toFixed(2)} (${Math.max(...pauses).toFixed(1)}) | ` +
        `${(sum(ms.map((m) => m.survivedPerRequest)) / ms.length / 1000).toFixed(1)} |`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
