// What the gateway benchmarks share: a throwaway ledger database, a bench/gateway-server.js child, and CPU
// time per process from /proc.
'use strict';
const { spawn } = require('node:child_process');
const { readFileSync } = require('node:fs');
const path = require('node:path');
const { Client } = require('pg');

const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh database `tg_bench_<label>_<pid>` on DATABASE_URL; `drop()` removes it. */
async function createDatabase(label) {
  const name = `tg_bench_${label}_${process.pid}`;
  const admin = new Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new Client({ connectionString: DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Starts `node bench/gateway-server.js <mode> ...args`; resolves with its port once it prints READY. */
function startServer(mode, ...args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'gateway-server.js'), mode, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) resolve({ port: Number(m[1]), child });
    });
    child.once('exit', (code) => reject(new Error(`${mode} exited with ${code}`)));
  });
}

const TICK_US = 1e6 / 100; // USER_HZ

/** CPU time (user + system) of a process in microseconds, from /proc (Linux); null elsewhere. */
function cpuUs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_US;
  } catch {
    return null;
  }
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** The mean CPU figure of some rounds, or n/a when /proc was not readable. */
const cpuCell = (xs) => (xs.some((x) => x === null) ? 'n/a' : mean(xs).toFixed(0));

module.exports = { createDatabase, startServer, cpuUs, mean, cpuCell };
