// Side by side, in one run against one upstream process: nginx proxy_pass (upstream keep-alive, when installed),
// http-proxy-middleware on bare node:http, Express + http-proxy-middleware, the floor (node:http + undici's Pool and
// nothing else: what any Node proxy reaches here, on the hot echo only), and the Tollgate gateway (JWT, quota,
// metering on Redis, inline flusher to Postgres), before (another built checkout) and after (this one).
//
// Workloads: GET /api/echo with one hot tenant and with 10,000 tenants (one valid JWT each, all seen before), and
// POST /api/v1/chat/completions (1 KB prompt, JSON and SSE) against bare http-proxy-middleware. wrk -t1 -c50 in
// interleaved rounds; req/s, p50/p99 and the proxy's CPU per request (from /proc/<pid>/stat: the figure to trust on
// a shared machine), and the bench Redis's CPU per request (INFO cpu: what the store's scripts and the flusher
// cost it). Then the first request of never-seen tenants against seen ones (CPU per request).
//
// Usage: taskset -c 0 node bench/proxy-compare.js [--before <checkout>] [--rounds 3] [--seconds 5]
// Env: REDIS_URL (redis://127.0.0.1:6379), DATABASE_URL (postgres://postgres@127.0.0.1:5432/tollgate_bench_compare),
//      NGINX (/usr/sbin/nginx), WRK (/usr/bin/wrk), GATEWAY_CPU (1), CLIENT_CPU (0),
//      REDIS_CPU (CLIENT_CPU; the bench Redis is pinned there when it runs on this machine, "none" leaves it be),
//      GATEWAY_NODE_ARGS (none; e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the gateways),
//      BENCH_FLUSHER (inline; off runs the gateways without their flushers, to see what the flusher costs),
//      BENCH_DEBUG (unset; set, it prints how long each case waited for the servers to be idle).
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const jwt = require('jsonwebtoken');

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const ROUNDS = Number(arg('rounds', '3'));
const SECONDS = Number(arg('seconds', '5'));
const BEFORE = arg('before', null);
const TENANTS = Number(arg('tenants', '10000'));
const COLD = Number(arg('cold', '2000'));
// A regular expression: only the cases whose name matches run (e.g. "1 tenant: (raw|after)"); --cold 0 skips that part.
const ONLY = new RegExp(arg('cases', '.'));
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// Its own database (created when missing), so the bench's ledger rows stay out of every other one.
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tollgate_bench_compare';
const NGINX = process.env.NGINX ?? '/usr/sbin/nginx';
const WRK = process.env.WRK ?? '/usr/bin/wrk';
const GATEWAY_CPU = process.env.GATEWAY_CPU ?? '1';
const CLIENT_CPU = process.env.CLIENT_CPU ?? '0';
const REDIS_CPU = process.env.REDIS_CPU ?? CLIENT_CPU;
const SECRET = 'bench-jwt-secret-0123456789abcdef';
const SERVER = path.join(__dirname, 'gateway-server.js');
const TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'proxy-compare-'));
const children = [];

const token = (sub, tenant) =>
  jwt.sign({ sub, tenant_id: tenant, tier: 'free' }, SECRET, { expiresIn: '2h' });
const HOT = token('bench-hot', 'bench-hot');
const PROMPT = 'x'.repeat(1024);
const chatBody = (stream) =>
  JSON.stringify({ model: 'gpt-4o', max_tokens: 16, stream, messages: [{ role: 'user', content: PROMPT }] });

/** Starts a server process pinned to `cpu`; resolves with its port and pid once it printed READY. */
function start(cpu, argv, env = {}, nodeArgs = []) {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', cpu, process.execPath, ...nodeArgs, ...argv], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    });
    children.push(child);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) resolve({ port: Number(m[1]), pid: child.pid });
    });
    child.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited ${code}`)));
  });
}

/** nginx, one worker, proxy_pass to the upstream with a keep-alive pool; null when it is not installed. */
async function startNginx(upstreamPort) {
  if (!fs.existsSync(NGINX)) return null;
  const dir = path.join(tmp, 'nginx');
  fs.mkdirSync(dir);
  const port = await freePort();
  const user = os.userInfo().uid === 0 ? 'user root;\n' : '';
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    `${user}worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
  }
}
`,
  );
  const child = spawn(
    'taskset',
    ['-c', GATEWAY_CPU, NGINX, '-p', dir, '-c', `${dir}/nginx.conf`, '-e', `${dir}/error.log`],
    {
      stdio: 'inherit',
    },
  );
  children.push(child);
  for (let i = 0; i < 100; i++) {
    if (await get(port, '/api/echo', HOT).catch(() => 0)) return { port, pid: child.pid, tree: true };
    await sleep(50);
  }
  throw new Error('nginx did not start');
}

function freePort() {
  return new Promise((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });

/** GET with a bearer token; once more on a reset (a keep-alive socket the server closed as it was reused). */
function get(port, p, bearer, retry = true) {
  return getOnce(port, p, bearer).catch((err) => {
    if (retry && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) return get(port, p, bearer, false);
    throw err;
  });
}

function getOnce(port, p, bearer) {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: p, agent, headers: { authorization: `Bearer ${bearer}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('error', reject);
  });
}

/** CPU ticks (user + system) of a process, and of its children when `tree` (nginx's worker). */
function cpuTicks(pid, tree) {
  const ticks = (p) => {
    const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  };
  let sum = ticks(pid);
  if (tree) {
    const kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    for (const k of kids ? kids.split(' ') : []) sum += ticks(k);
  }
  return sum;
}

const LUA_TOKENS = `
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format(os.getenv("METHOD"), os.getenv("TARGET"), {
    ["Authorization"] = "Bearer " .. tokens[i], ["Content-Type"] = "application/json" }, os.getenv("BODY"))
end
`;

function toMs(text) {
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

/** Resolves once `servers` and Redis together used under 5% of a CPU over half a second (waits 20 s at most). */
async function idle(servers) {
  const busy = () =>
    servers.reduce((sum, x) => sum + cpuTicks(x.pid, x.tree) * TICK_US, 0) + redisCpuSeconds() * 1e6;
  const deadline = Date.now() + 20_000;
  let last = busy();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    const now = busy();
    // Ticks are 10 ms each: a few of them are idle servers' timers.
    if (now - last < 0.05 * 500_000) {
      if (process.env.BENCH_DEBUG) console.log(`  idle after ${20_000 - (deadline - Date.now())} ms`);
      return;
    }
    last = now;
  }
}

/** The bench Redis's CPU seconds so far (user + system, from INFO cpu); the gateways' store and flusher work. */
function redisCpuSeconds() {
  const info = execFileSync('redis-cli', ['-u', REDIS_URL, 'info', 'cpu']).toString();
  const field = (name) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)[1]);
  return field('used_cpu_user') + field('used_cpu_sys');
}

/**
 * One wrk round against `server`; returns req/s, p50, p99, CPU µs per request of the proxy and of Redis, and the
 * non-2xx count.
 */
function wrkRound(server, workload) {
  const redisBefore = redisCpuSeconds();
  const before = cpuTicks(server.pid, server.tree);
  const out = execFileSync(
    'taskset',
    [
      '-c',
      CLIENT_CPU,
      WRK,
      '-t1',
      '-c50',
      `-d${SECONDS}s`,
      '--latency',
      '-s',
      path.join(tmp, 'rotate.lua'),
      `http://127.0.0.1:${server.port}`,
    ],
    {
      env: {
        ...process.env,
        TOKENS_FILE: workload.tokens,
        METHOD: workload.method,
        TARGET: workload.target,
        BODY: workload.body ?? '',
      },
    },
  ).toString();
  const cpu = (cpuTicks(server.pid, server.tree) - before) * TICK_US;
  const redisCpu = (redisCpuSeconds() - redisBefore) * 1e6;
  const requests = Number(/(\d+) requests in/.exec(out)[1]);
  const bad = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: (.*)/.exec(out)?.[1] ?? null;
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]),
    p50: toMs(/^\s+50%\s+(\S+)/m.exec(out)[1]),
    p99: toMs(/^\s+99%\s+(\S+)/m.exec(out)[1]),
    cpuUs: cpu / requests,
    redisUs: redisCpu / requests,
    bad,
    errors,
  };
}

/** Sends `tokens.length` requests (concurrency 20), one per token; returns the server's CPU µs per request. */
async function cpuPerRequest(server, tokens) {
  const before = cpuTicks(server.pid, server.tree);
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < tokens.length) {
      const status = await get(server.port, '/api/echo', tokens[next++]);
      if (status !== 200) failed++;
    }
  };
  await Promise.all(Array.from({ length: 20 }, worker));
  return { cpuUs: ((cpuTicks(server.pid, server.tree) - before) * TICK_US) / tokens.length, failed };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function ensureDatabase(url) {
  const { Client } = require('pg');
  const u = new URL(url);
  const name = u.pathname.slice(1);
  u.pathname = '/postgres';
  const client = new Client({ connectionString: u.toString() });
  await client.connect();
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  await client.end();
}

/**
 * Pins the bench Redis to REDIS_CPU when it runs on this machine. Left to the scheduler it can run on the gateway's
 * CPU: at 10,000 tenants the gateway then used 233-251 µs of CPU per request, 168-188 µs with Redis pinned away from
 * it (same code, separate runs). Only the Tollgate cases use Redis, so only they would pay.
 */
function pinRedis() {
  if (REDIS_CPU === 'none') return;
  const info = execFileSync('redis-cli', ['-u', REDIS_URL, 'info', 'server']).toString();
  const pid = /^process_id:(\d+)/m.exec(info)?.[1];
  if (pid === undefined || !fs.existsSync(`/proc/${pid}`)) {
    console.log(`(Redis not pinned: its process ${pid ?? '?'} is not on this machine)`);
    return;
  }
  execFileSync('taskset', ['-a', '-pc', REDIS_CPU, pid], { stdio: 'ignore' });
}

async function main() {
  await ensureDatabase(DATABASE_URL);
  pinRedis();
  fs.writeFileSync(path.join(tmp, 'rotate.lua'), LUA_TOKENS);
  const hotFile = path.join(tmp, 'hot.txt');
  fs.writeFileSync(hotFile, `${HOT}\n`);
  const many = Array.from({ length: TENANTS }, (_, i) => token(`bench-user-${i}`, `bench-tenant-${i}`));
  const manyFile = path.join(tmp, 'many.txt');
  fs.writeFileSync(manyFile, `${many.join('\n')}\n`);

  const upstream = await start(CLIENT_CPU, [SERVER, 'upstream']);
  const target = `http://127.0.0.1:${upstream.port}`;
  const gw = (root) =>
    start(
      GATEWAY_CPU,
      [SERVER, 'gateway', target, REDIS_URL, DATABASE_URL, root],
      { BENCH_FLUSHER: process.env.BENCH_FLUSHER ?? 'inline' },
      (process.env.GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean),
    );
  const servers = {};
  const nginx = await startNginx(upstream.port);
  if (nginx) servers.nginx = nginx;
  else console.log(`(nginx left out: ${NGINX} is not installed; apt-get install -y nginx-light provides it)`);
  servers.raw = await start(GATEWAY_CPU, [SERVER, 'raw', target]);
  servers.express = await start(GATEWAY_CPU, [SERVER, 'bare', target]);
  servers.floor = await start(GATEWAY_CPU, [SERVER, 'floor', target]);
  if (BEFORE) servers.before = await gw(BEFORE);
  servers.after = await gw(path.join(__dirname, '..'));
  const gateways = Object.keys(servers).filter((k) => k === 'before' || k === 'after');

  const echo = { method: 'GET', target: '/api/echo' };
  const chat = (stream) => ({
    method: 'POST',
    target: '/api/v1/chat/completions',
    body: chatBody(stream),
    tokens: hotFile,
  });
  const cases = [
    ...Object.keys(servers).map((s) => ({
      name: `echo, 1 tenant: ${s}`,
      server: s,
      work: { ...echo, tokens: hotFile },
    })),
    ...['raw', ...gateways].map((s) => ({
      name: `echo, ${TENANTS} tenants: ${s}`,
      server: s,
      work: { ...echo, tokens: manyFile },
    })),
    ...['raw', ...gateways].map((s) => ({ name: `chat JSON: ${s}`, server: s, work: chat(false) })),
    ...['raw', ...gateways].map((s) => ({ name: `chat SSE: ${s}`, server: s, work: chat(true) })),
  ];
  const chosen = cases.filter((c) => ONLY.test(c.name));
  // Every tenant seen before (its counters seeded, its token verified once) by each gateway that a chosen case of
  // many tenants runs on (a --cases filter naming only one of them included).
  for (const name of gateways) {
    if (!chosen.some((c) => c.server === name && c.work.tokens === manyFile)) continue;
    const seen = await cpuPerRequest(servers[name], many);
    if (seen.failed > 0) throw new Error(`${name}: ${seen.failed} of ${many.length} first requests failed`);
  }
  const results = new Map(chosen.map((c) => [c.name, []]));
  // Warm every server on every workload (JIT, pools), then the measured rounds, interleaved.
  for (const c of chosen) wrkRoundShort(servers[c.server], c.work);
  for (let r = 0; r < ROUNDS; r++) {
    // Every other round in reverse order, and each case only once every server and Redis are idle again: a gateway's
    // flusher drains its backlog after its round, on the gateways' CPU and in Redis, and would be counted against
    // the case after it (at 10,000 tenants that was the same case each round).
    for (const c of r % 2 === 0 ? chosen : [...chosen].reverse()) {
      await idle(Object.values(servers));
      const m = wrkRound(servers[c.server], c.work);
      results.get(c.name).push(m);
      if (m.bad || m.errors)
        console.log(`  ${c.name} round ${r + 1}: ${m.bad} non-2xx, socket errors: ${m.errors}`);
    }
  }

  const fmt = (xs, key, digits) => {
    const vals = xs.map((x) => x[key]);
    return `${median(vals).toFixed(digits)} (${Math.min(...vals).toFixed(digits)}-${Math.max(...vals).toFixed(digits)})`;
  };
  console.log(`\nwrk -t1 -c50, ${ROUNDS} interleaved rounds of ${SECONDS} s; median (min-max)`);
  console.log('| case | req/s | p50 ms | p99 ms | proxy CPU µs/req | Redis CPU µs/req |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const c of chosen) {
    const xs = results.get(c.name);
    console.log(
      `| ${c.name} | ${fmt(xs, 'rps', 0)} | ${fmt(xs, 'p50', 2)} | ${fmt(xs, 'p99', 2)} | ${fmt(xs, 'cpuUs', 0)} | ${fmt(xs, 'redisUs', 0)} |`,
    );
  }
  const med = (name, key) => (results.has(name) ? median(results.get(name).map((x) => x[key])) : NaN);
  // Ratios by req/s (and by CPU per request, in brackets), each only when both of its cases ran.
  const ratio = (a, b) => {
    const r = med(a, 'rps') / med(b, 'rps');
    return Number.isNaN(r)
      ? null
      : `${r.toFixed(2)}x (CPU ${(med(b, 'cpuUs') / med(a, 'cpuUs')).toFixed(2)}x)`;
  };
  // Before against after round by round (both ran in the same round, so a round's load on the box is in both):
  // the per-round ratios are steadier than the ratio of medians on a shared machine.
  for (const c of chosen) {
    if (c.server !== 'after') continue;
    const base = results.get(c.name.replace(/: after$/, ': before'));
    if (base === undefined) continue;
    const xs = results.get(c.name);
    const cpu = xs.map((x, r) => base[r].cpuUs / x.cpuUs);
    const rps = xs.map((x, r) => x.rps / base[r].rps);
    const list = (v) => v.map((x) => x.toFixed(2)).join(', ');
    console.log(
      `${c.name.replace(/: after$/, '')}, after vs before per round: CPU ${median(cpu).toFixed(2)}x (${list(cpu)}); req/s ${median(rps).toFixed(2)}x (${list(rps)})`,
    );
  }
  // What any Node proxy reaches against nginx here: the ceiling of the gateway's nginx ratio.
  const floor = ratio('echo, 1 tenant: floor', 'echo, 1 tenant: nginx');
  if (floor !== null) console.log(`floor (the least a Node proxy does) vs nginx: ${floor}`);
  for (const g of gateways) {
    const hot = `echo, 1 tenant: ${g}`;
    const parts = [
      ['hot echo vs bare node:http', ratio(hot, 'echo, 1 tenant: raw')],
      ['hot echo vs nginx', ratio(hot, 'echo, 1 tenant: nginx')],
      [`${TENANTS} tenants vs its hot figure`, ratio(`echo, ${TENANTS} tenants: ${g}`, hot)],
      ['chat JSON vs bare', ratio(`chat JSON: ${g}`, 'chat JSON: raw')],
      ['chat SSE vs bare', ratio(`chat SSE: ${g}`, 'chat SSE: raw')],
    ].filter(([, v]) => v !== null);
    console.log(`${g}: ${parts.map(([k, v]) => `${k} ${v}`).join('; ')}`);
  }

  // Never-seen tenants (fresh subject, fresh token) against the same tenants once seen.
  if (COLD === 0) return;
  console.log(
    `\nfirst request of ${COLD} never-seen tenants vs the same tenants seen, CPU µs/req (concurrency 20), per round`,
  );
  const coldRatios = new Map(gateways.map((g) => [g, []]));
  const coldTokens = (g, r) =>
    Array.from({ length: COLD }, (_, i) =>
      // Tenant ids of their own per run: an earlier run's ledger rows would make them seen (seeded from the ledger).
      token(`cold-${process.pid}-${g}-${r}-${i}`, `cold-${process.pid}-${g}-${r}-${i}`),
    );
  // One unmeasured round first, as the wrk cases have: the cold path's code (seeding, the baseline statement) is
  // compiled by it. Measured, the first round came out 3.7-3.9x against 1.7-2.6x for the rounds after it.
  for (const g of gateways) {
    const fresh = coldTokens(g, 'warm');
    for (let pass = 0; pass < 2; pass++) {
      const { failed } = await cpuPerRequest(servers[g], fresh);
      if (failed > 0) throw new Error(`${g}: ${failed} of ${COLD} warm-up requests failed`);
    }
  }
  for (let r = 0; r < ROUNDS; r++) {
    const line = [];
    // Alternating order, and each measure only once every server and Redis are idle: the gateway's inline flusher
    // drains a cold burst's usage (2,000 new shards) for a while after it, which the seen measure, or the other
    // gateway's, would otherwise count.
    for (const g of r % 2 === 0 ? gateways : [...gateways].reverse()) {
      const fresh = coldTokens(g, r);
      await idle(Object.values(servers));
      const cold = await cpuPerRequest(servers[g], fresh);
      await idle(Object.values(servers));
      const seen = await cpuPerRequest(servers[g], fresh);
      coldRatios.get(g).push(cold.cpuUs / seen.cpuUs);
      line.push(
        `${g}: cold ${cold.cpuUs.toFixed(0)}, seen ${seen.cpuUs.toFixed(0)}, ratio ${(cold.cpuUs / seen.cpuUs).toFixed(2)}x` +
          (cold.failed + seen.failed ? ` (${cold.failed + seen.failed} failed)` : ''),
      );
    }
    console.log(`  round ${r + 1}: ${line.join('; ')}`);
  }
  console.log(
    `  median cold/seen: ${gateways.map((g) => `${g} ${median(coldRatios.get(g)).toFixed(2)}x`).join(', ')}`,
  );
}

/** A 1 s wrk run, unmeasured. */
function wrkRoundShort(server, workload) {
  execFileSync(
    'taskset',
    [
      '-c',
      CLIENT_CPU,
      WRK,
      '-t1',
      '-c50',
      '-d1s',
      '-s',
      path.join(tmp, 'rotate.lua'),
      `http://127.0.0.1:${server.port}`,
    ],
    {
      env: {
        ...process.env,
        TOKENS_FILE: workload.tokens,
        METHOD: workload.method,
        TARGET: workload.target,
        BODY: workload.body ?? '',
      },
    },
  );
}

function stopAll() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  agent.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(stopAll);
