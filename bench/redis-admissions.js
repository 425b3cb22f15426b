// Admissions/s through RedisStore.apply (via QuotaEngine.consume) vs redis-benchmark's EVALSHA ceiling for the
// same script, arguments and Redis, measured in one run. Loopback only, bounded in time, bench-only key prefix.
//
// Run: npx tsc -p packages/core/tsconfig.build.json && npx tsc -p packages/redis/tsconfig.build.json
//      node bench/redis-admissions.js [seconds]        (REDIS_URL defaults to redis://127.0.0.1:6379)
'use strict';
const { execFileSync } = require('node:child_process');
const { createHash, randomBytes } = require('node:crypto');
const Redis = require('ioredis');
const { QuotaEngine, parseConfig } = require('../packages/core/dist');
const { RedisStore, APPLY_LUA, KEY_COUNTS } = require('../packages/redis/dist');
const { encodeApply } = require('../packages/redis/dist/encoding');

const SECONDS = Number(process.argv[2] ?? 10);
const CALLERS = 64;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `tgbench:${randomBytes(4).toString('hex')}:`;
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
  const deadline = Date.now() + seconds * 1000;
  const caller = async () => {
    while (Date.now() < deadline) {
      const r = await engine.consume(who, { requests: 1 });
      if (r.admitted) admitted += 1;
    }
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CALLERS }, caller));
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  return { admitted, elapsed, perSecond: admitted / elapsed };
}

function redisBenchmark(url, pipeline, requests, args) {
  const { hostname, port } = new URL(url);
  const out = execFileSync(
    'redis-benchmark',
    [
      '-h',
      hostname,
      '-p',
      port || '6379',
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
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  // CSV: header line, then "test","rps",...
  const row = out.trim().split('\n').pop().split('","');
  return Number(row[1]);
}

async function deleteKeys(client) {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

async function main() {
  const client = new Redis(REDIS_URL, {
    enableAutoPipelining: true,
    commandTimeout: 1000,
    maxRetriesPerRequest: 1,
  });
  const store = new RedisStore({ client, prefix: PREFIX });
  const engine = new QuotaEngine({ store, config });
  try {
    // The exact EVALSHA one consume sends, for redis-benchmark (its op id becomes random per call).
    let op = null;
    const apply = store.apply;
    store.apply = (o) => {
      op = o;
      return apply.call(store, o);
    };
    await engine.consume(who, { requests: 1 });
    store.apply = apply;
    const captured = encodeApply(op, store.keys(op.tag), `${PREFIX}q`, store.dedupWindowMs).args;
    const sha = createHash('sha1').update(APPLY_LUA).digest('hex');
    await client.script('LOAD', APPLY_LUA);
    const keyCount = KEY_COUNTS.apply; // never hard-code it: a wrong count misaligns ARGV
    const argv = captured.map(String);
    argv[keyCount] = 'bench-op-__rand_int__';
    const evalsha = ['EVALSHA', sha, String(keyCount), ...argv];

    await admissions(engine, 1); // warm-up
    const store_ = await admissions(engine, SECONDS);
    const probe = redisBenchmark(REDIS_URL, 16, 20000, evalsha);
    const requests = Math.max(50000, Math.round(probe * Math.min(SECONDS, 5)));
    const ceiling = redisBenchmark(REDIS_URL, 16, requests, evalsha);
    const unpipelined = redisBenchmark(REDIS_URL, 1, Math.round(requests / 3), evalsha);
    const deleted = await deleteKeys(client);
    const result = {
      redis: REDIS_URL,
      redisVersion: (await client.info('server')).match(/redis_version:(\S+)/)[1],
      callers: CALLERS,
      seconds: Number(store_.elapsed.toFixed(2)),
      storeAdmissionsPerSecond: Math.round(store_.perSecond),
      evalshaCeilingPerSecond: Math.round(ceiling),
      evalshaUnpipelinedPerSecond: Math.round(unpipelined),
      ratio: Number((store_.perSecond / ceiling).toFixed(3)),
      argsPerCall: argv.length + 3,
      benchKeysDeleted: deleted,
      redisBenchmark: `redis-benchmark -c ${CALLERS} -P 16 -n ${requests} -r 1000000000 --csv EVALSHA ${sha} ${keyCount} <the ${argv.length} keys and args of one consume, op id = bench-op-__rand_int__>`,
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await deleteKeys(client).catch(() => 0);
    client.disconnect();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
