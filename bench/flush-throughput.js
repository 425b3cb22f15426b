// Flusher throughput: 100k distinct (subject, meter, hour) deltas claimed and written by Flusher.flushOnce,
// against a raw COPY (psql \copy) of the same rows into the same table, in the same run. Loopback only, bounded.
//
// Run: npm run build && node bench/flush-throughput.js [rounds]
//      (DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/postgres; a bench database is created and
//       dropped. REDIS_URL, default redis://127.0.0.1:6379, adds an end-to-end round from RedisStore.)
'use strict';
const { execFileSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { mkdtempSync, writeFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');
const { Client } = require('pg');
const { MemoryStore, QuotaEngine, parseConfig } = require('@tollgate/core');
const { Flusher, PartitionManager, PgSqlClient, migrate, writeBatches } = require('@tollgate/ledger');

const ROUNDS = Number(process.argv[2] ?? 3);
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SUBJECTS = 1000;
const METERS = 10;
const HOURS = 10;
const DELTAS = SUBJECTS * METERS * HOURS;
const HOUR = 3_600_000;

const meters = Object.fromEntries(Array.from({ length: METERS }, (_, i) => [`m${i}`, { kind: 'counter' }]));
const config = parseConfig({ defaultPlan: 'bench', meters, plans: { bench: { limits: {} } } });

function dbUrl(name) {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin(text) {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

/** Records the 100k distinct deltas into a store: one op per (subject, hour) carrying all 10 meters. */
async function fill(store, base) {
  let clock = base;
  const engine = new QuotaEngine({ store, config, now: () => clock });
  const records = Array.from({ length: METERS }, (_, m) => ({ meter: `m${m}`, amount: m + 1 }));
  for (let h = 0; h < HOURS; h++) {
    clock = base + h * HOUR + 1000;
    const ops = [];
    for (let s = 0; s < SUBJECTS; s++)
      ops.push(engine.record({ tenantId: `t${s}`, userId: `u${s}` }, records));
    await Promise.all(ops);
  }
}

/** The same rows as the flusher writes, as CSV for COPY. */
function csvRows(base) {
  const lines = [];
  for (let s = 0; s < SUBJECTS; s++) {
    const batch = `copy-${s}`;
    let row = 0;
    for (let h = 0; h < HOURS; h++) {
      const bucket = new Date(base + h * HOUR).toISOString();
      for (let m = 0; m < METERS; m++) {
        row += 1;
        lines.push(`t${s},u${s},m${m},,${m + 1},0,false,${bucket},${batch},${row}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}

async function timeWrite(sql, store, method) {
  const batches = await store.claim({ now: Date.now(), maxTags: SUBJECTS, staleAfterMs: 60_000 });
  const start = process.hrtime.bigint();
  const res = await writeBatches(sql, batches, { partitions: new PartitionManager(sql), method });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (res.rows !== DELTAS) throw new Error(`wrote ${res.rows} rows, expected ${DELTAS}`);
  return seconds;
}

async function timeFlush(sql, store) {
  const flusher = new Flusher({ store, sql, maxRounds: 100 }); // default maxTags (500): pipelined rounds
  const start = process.hrtime.bigint();
  const report = await flusher.flushOnce();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (report.rows !== DELTAS) throw new Error(`flushed ${report.rows} rows, expected ${DELTAS}`);
  return seconds;
}

function timeCopy(url, file) {
  const start = process.hrtime.bigint();
  execFileSync('psql', [
    url,
    '-q',
    '-v',
    'ON_ERROR_STOP=1',
    '-c',
    `\\copy usage_ledger (tenant_id, user_id, meter, model, amount, cost_usd, estimated, bucket_start, batch_id, batch_row) FROM '${file}' WITH (FORMAT csv)`,
  ]);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function rowCount(sql) {
  const r = await sql.query('SELECT count(*)::int AS n FROM usage_ledger');
  return r.rows[0].n;
}

function median(list) {
  const s = [...list].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  const name = `tgbench_flush_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = dbUrl(name);
  const sql = new PgSqlClient({ pool: { connectionString: url, max: 4 } });
  const dir = mkdtempSync(path.join(tmpdir(), 'tgbench-'));
  try {
    await migrate(sql);
    const base = Math.floor(Date.now() / HOUR) * HOUR - HOURS * HOUR;
    const file = path.join(dir, 'rows.csv');
    writeFileSync(file, csvRows(base));
    const reset = () => sql.exec('TRUNCATE usage_ledger, flush_batches');
    const flush = [];
    const copy = [];
    const write = [];
    const insert = [];
    const filled = async () => {
      const store = new MemoryStore();
      await fill(store, base);
      await reset();
      return store;
    };
    const checkRows = async (what) => {
      if ((await rowCount(sql)) !== DELTAS) throw new Error(`${what}: row count mismatch`);
    };
    // Interleaved rounds, so a busy machine slows every method alike.
    for (let round = 0; round < ROUNDS; round++) {
      let store = await filled();
      flush.push(await timeFlush(sql, store));
      await checkRows('flusher');
      await store.close();
      await reset();
      copy.push(timeCopy(url, file));
      await checkRows('COPY');
      store = await filled();
      write.push(await timeWrite(sql, store, 'copy'));
      await checkRows('writeBatches copy');
      await store.close();
      store = await filled();
      insert.push(await timeWrite(sql, store, 'insert'));
      await checkRows('writeBatches insert');
      await store.close();
    }
    const c = DELTAS / median(copy);
    // Each method's time is compared with the COPY of the same round (adjacent in time), so a busy
    // machine moves both sides of a ratio; the median ratio and the best-of-rounds ratio are shown.
    const line = (label, list, unit = 'deltas/s') => {
      const ratios = list.map((t, i) => copy[i] / t);
      const best = Math.min(...copy) / Math.min(...list);
      return `${label}: ${Math.round(DELTAS / median(list))} ${unit}; vs COPY: median ratio ${median(ratios).toFixed(2)}x, best-of ${best.toFixed(2)}x (s: ${list.map((s) => s.toFixed(3)).join(', ')})`;
    };
    const out = [
      `deltas per round: ${DELTAS} (${SUBJECTS} subjects x ${METERS} meters x ${HOURS} hours), rounds: ${ROUNDS}`,
      line('psql \\copy of the same rows (baseline)', copy, 'rows/s'),
      line('Flusher.flushOnce from MemoryStore (claim + COPY in the flush transaction + ack)', flush),
      line('  write path only: writeBatches, method copy', write),
      line('  write path only: writeBatches, method insert (INSERT ... SELECT FROM unnest)', insert),
      `target: Flusher >= 0.50x COPY`,
    ];
    let redisStore = null;
    try {
      const Redis = require('ioredis');
      const { RedisStore } = require('@tollgate/redis');
      const client = new Redis(REDIS_URL, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
      client.on('error', () => undefined);
      try {
        await client.ping();
      } catch (err) {
        client.disconnect();
        throw err;
      }
      const prefix = `tgbench:${randomBytes(4).toString('hex')}:`;
      redisStore = { client, prefix, store: new RedisStore({ client, prefix }) };
    } catch (err) {
      out.push(`(RedisStore round skipped: ${err.message})`);
    }
    if (redisStore) {
      try {
        await reset();
        const fillStart = process.hrtime.bigint();
        await fill(redisStore.store, base);
        const fillSeconds = Number(process.hrtime.bigint() - fillStart) / 1e9;
        const seconds = await timeFlush(sql, redisStore.store);
        out.push(
          `Flusher.flushOnce from RedisStore (claim + write + ack, end to end, one round): ${Math.round(DELTAS / seconds)} deltas/s = ${(DELTAS / seconds / c).toFixed(2)}x COPY (${seconds.toFixed(3)} s; filling Redis took ${fillSeconds.toFixed(2)} s)`,
        );
      } finally {
        const keys = await redisStore.client.keys(`${redisStore.prefix}*`);
        for (let i = 0; i < keys.length; i += 500) await redisStore.client.del(...keys.slice(i, i + 500));
        redisStore.client.disconnect();
      }
    }
    console.log(out.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await sql.close();
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
