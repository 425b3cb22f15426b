// Admissions/s through RedisStore (QuotaEngine.consume, auto-pipelined client, 64 concurrent callers, one
// process) vs the ceiling redis-benchmark reports for the same EVALSHA, on a redis-server this script starts
// itself on a free loopback port and kills at the end. It never touches the shared Redis. Bounded in time.
//
// Run: npm run build -w @tollgate/core && npm run build -w @tollgate/redis (the latter also copies its Lua)
//      node bench/redis-admissions.js [seconds=10]
// Profile the Node side: node --cpu-prof --cpu-prof-dir=bench/results bench/redis-admissions.js 10 --store-only
'use strict';
const { startOwnRedis } = require('./own-redis');
const { execFileSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const { statSync, readdirSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const Redis = require('ioredis');

const SECONDS = Number(process.argv[2] ?? 10);
const STORE_ONLY = process.argv.includes('--store-only');
const CALLERS = 64;
const PIPELINE = 16;
const ROUNDS = 5;
const PREFIX = 'tgbench:';

if (!Number.isFinite(SECONDS) || SECONDS <= 0 || SECONDS > 60) {
  throw new Error('seconds must be a number in (0, 60]');
}

/** Sources newer than their package's dist/index.js: the numbers would not be those of the code as it stands. */
function staleSources(pkg) {
  const root = path.join(__dirname, '..', 'packages', pkg);
  let built;
  try {
    built = statSync(path.join(root, 'dist', 'index.js')).mtimeMs;
  } catch {
    throw new Error(`packages/${pkg} is not built: npx tsc -p packages/${pkg}/tsconfig.build.json`);
  }
  const out = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, e.name);
      if (e.isDirectory()) walk(file);
      else if (/\.(ts|lua)$/.test(e.name) && statSync(file).mtimeMs > built)
        out.push(path.relative(root, file));
    }
  };
  walk(path.join(root, 'src'));
  return out.map((f) => `packages/${pkg}/${f}`);
}
const stale = [...staleSources('core'), ...staleSources('redis')];
if (stale.length > 0) {
  console.error(`warning: sources newer than their build (rebuild for exact numbers): ${stale.join(', ')}`);
}
const { QuotaEngine, parseConfig } = require('@tollgate/core');
const { RedisStore } = require('@tollgate/redis');
const { APPLY, APPLY_LUA } = require('@tollgate/redis/internal');

const config = parseConfig({
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'bench',
  warnAt: [80, 100],
  plans: { bench: { limits: { requests: { minute: 1e12, day: 1e12 } } } },
});
const who = { tenantId: 'bench-tenant' };

async function admissions(engine, seconds) {
  let admitted = 0;
  let rejected = 0;
  const deadline = Date.now() + seconds * 1000;
  const caller = async () => {
    while (Date.now() < deadline) {
      const r = await engine.consume(who, { requests: 1 });
      if (r.admitted) admitted += 1;
      else rejected += 1;
    }
  };
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  await Promise.all(Array.from({ length: CALLERS }, caller));
  const used = process.cpuUsage(cpu);
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  if (rejected > 0) throw new Error(`${rejected} admissions were rejected: the bench limit is too low`);
  return { admitted, elapsed, perSecond: admitted / elapsed, nodeCpuMicros: used.user + used.system };
}

/** CPU seconds the Redis server has used so far (user + sys), from INFO. */
async function redisCpu(client) {
  const info = await client.info('cpu');
  const n = (name) => Number(info.match(new RegExp(`${name}:([\\d.]+)`))[1]);
  return n('used_cpu_user') + n('used_cpu_sys');
}

function redisBenchmark(port, pipeline, requests, args) {
  const out = execFileSync(
    'redis-benchmark',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-c',
      String(CALLERS),
      '-P',
      String(pipeline),
      '-n',
      String(requests),
      '-r',
      '1000000000',
      '--csv',
      ...args,
    ],
    { encoding: 'utf8', maxBuffer: 1 << 20, timeout: 120_000 },
  );
  // CSV: a header line, then "test","rps",...
  const row = out.trim().split('\n').pop().split('","');
  const rps = Number(row[1]);
  if (!Number.isFinite(rps) || rps <= 0) throw new Error(`unexpected redis-benchmark output: ${out}`);
  return rps;
}

/**
 * The exact KEYS and ARGV one consume sends, captured on a separate plain client (an auto-pipelined client copies
 * its script commands into its pipelines, so wrapping them there would recurse).
 */
async function captureApply(port) {
  const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  try {
    const store = new RedisStore({ client, prefix: PREFIX });
    const engine = new QuotaEngine({ store, config });
    let captured = null;
    const original = client.tollgateApply;
    client.tollgateApply = (...args) => {
      captured = args.map(String);
      return original.apply(client, args);
    };
    const r = await engine.consume(who, { requests: 1 });
    if (!r.admitted || captured === null) throw new Error('the capture consume was not admitted');
    return captured;
  } finally {
    client.disconnect();
  }
}

/** CPU count, load and what else was busy (top's one-shot snapshot), since other processes share the 2 cores. */
function machineNote() {
  const load = os.loadavg().map((l) => l.toFixed(2));
  let busiest = '';
  try {
    const lines = execFileSync('top', ['-b', '-n', '1', '-w', '200'], { encoding: 'utf8' }).split('\n');
    const header = lines.findIndex((l) => /^\s*PID\s/.test(l));
    const cols = lines[header].trim().split(/\s+/);
    const cpu = cols.indexOf('%CPU');
    busiest = lines
      .slice(header + 1)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length > cpu && Number(f[cpu]) >= 5)
      .slice(0, 6)
      .map((f) => `${f[f.length - 1]} ${f[cpu]}%`)
      .join(', ');
  } catch {
    busiest = 'top unavailable';
  }
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    loadAverage: load,
    busyNow: busiest || 'nothing >= 5%',
  };
}

async function main() {
  const before = machineNote();
  const redis = await startOwnRedis();
  const client = new Redis(redis.port, '127.0.0.1', {
    enableAutoPipelining: true,
    commandTimeout: 1000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  try {
    await new Promise((resolve, reject) => {
      client.once('ready', resolve);
      client.once('error', reject);
    });
    const store = new RedisStore({ client, prefix: PREFIX });
    const engine = new QuotaEngine({ store, config });
    const keysAndArgs = await captureApply(redis.port);
    const keyCount = APPLY.keyCount; // never hard-coded: a wrong count misaligns every ARGV
    // redis-benchmark makes the op id unique per call, as a consume does.
    keysAndArgs[keyCount + APPLY.argv.opId - 1] = 'bench-op-__rand_int__';
    const sha = createHash('sha1').update(APPLY_LUA).digest('hex');
    if ((await client.script('LOAD', APPLY_LUA)) !== sha) throw new Error('script sha mismatch');
    const evalsha = ['EVALSHA', sha, String(keyCount), ...keysAndArgs];
    // One call through redis-benchmark's arguments first: a shape error fails here, at once, not in a loop.
    const check = await client.evalsha(
      sha,
      keyCount,
      ...keysAndArgs.map((a) => a.replace('__rand_int__', 'x')),
    );
    if (!Array.isArray(check) || check[0] !== 'A')
      throw new Error(`check call answered ${JSON.stringify(check)}`);

    await admissions(engine, Math.min(2, SECONDS)); // warm-up (JIT, script cache)
    if (STORE_ONLY) {
      await client.flushall();
      const run = await admissions(engine, SECONDS);
      console.log(
        JSON.stringify({
          storeAdmissionsPerSecond: Math.round(run.perSecond),
          nodeCpuMicrosPerAdmission: Number((run.nodeCpuMicros / run.admitted).toFixed(1)),
        }),
      );
      return;
    }
    // Other processes share the 2 cores and come and go, so the store and the ceiling are measured in
    // alternating rounds (each on an emptied Redis) and compared round by round.
    await client.flushall();
    const probe = redisBenchmark(redis.port, PIPELINE, 20_000, evalsha);
    const slice = SECONDS / ROUNDS;
    const requests = Math.max(20_000, Math.round(probe * slice));
    const rounds = [];
    for (let i = 0; i < ROUNDS; i++) {
      await client.flushall();
      const cpu0 = await redisCpu(client);
      const run = await admissions(engine, slice);
      const cpu1 = await redisCpu(client);
      await client.flushall();
      const cpu2 = await redisCpu(client);
      const ceiling = redisBenchmark(redis.port, PIPELINE, requests, evalsha);
      const cpu3 = await redisCpu(client);
      rounds.push({
        store: run.perSecond,
        admitted: run.admitted,
        elapsed: run.elapsed,
        ceiling,
        nodeCpuMicros: run.nodeCpuMicros,
        redisCpuStore: cpu1 - cpu0,
        redisCpuCeiling: cpu3 - cpu2,
      });
    }
    await client.flushall();
    const unpipelined = redisBenchmark(redis.port, 1, Math.round(requests / 2), evalsha);
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const admitted = rounds.reduce((n, r) => n + r.admitted, 0);
    const elapsed = rounds.reduce((n, r) => n + r.elapsed, 0);
    const result = {
      redisVersion: (await client.info('server')).match(/redis_version:(\S+)/)[1],
      node: process.version,
      callers: CALLERS,
      seconds: Number(elapsed.toFixed(2)),
      storeAdmissions: admitted,
      storeAdmissionsPerSecond: Math.round(admitted / elapsed),
      evalshaCeilingPerSecond: Math.round(median(rounds.map((r) => r.ceiling))),
      medianRatio: Number(median(rounds.map((r) => r.store / r.ceiling)).toFixed(3)),
      rounds: rounds.map((r) => ({
        store: Math.round(r.store),
        ceiling: Math.round(r.ceiling),
        ratio: Number((r.store / r.ceiling).toFixed(3)),
      })),
      evalshaUnpipelinedPerSecond: Math.round(unpipelined),
      // CPU per admission: Node (whole process) and Redis, in the store runs and in the redis-benchmark runs.
      nodeCpuMicrosPerAdmission: Number(
        (rounds.reduce((n, r) => n + r.nodeCpuMicros, 0) / admitted).toFixed(1),
      ),
      redisCpuMicrosPerAdmission: Number(
        ((rounds.reduce((n, r) => n + r.redisCpuStore, 0) / admitted) * 1e6).toFixed(1),
      ),
      redisCpuMicrosPerCeilingCall: Number(
        ((rounds.reduce((n, r) => n + r.redisCpuCeiling, 0) / (requests * ROUNDS)) * 1e6).toFixed(1),
      ),
      argsPerCall: evalsha.length,
      bytesPerCall: evalsha.reduce((n, a) => n + Buffer.byteLength(a), 0),
      staleSources: stale,
      machineBefore: before,
      machineAfter: machineNote(),
      redisBenchmark: `redis-benchmark -h 127.0.0.1 -p <own port> -c ${CALLERS} -P ${PIPELINE} -n ${requests} -r 1000000000 --csv EVALSHA ${sha} ${keyCount} <the ${keysAndArgs.length} keys and args of one consume, op id = bench-op-__rand_int__>`,
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    client.disconnect();
    await redis.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
