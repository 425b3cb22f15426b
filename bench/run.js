// `npm run bench -- <name> [args...]`: runs one benchmark of this folder by name; with no name, lists them.
// Build first (`npm run build`): the benches load each package's dist/.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const BENCHES = {
  middleware: [
    'middleware-run.js',
    'trackUsage / the Fastify plugin vs bare, ERL+RLR (delivered and batched)',
  ],
  gateway: ['gateway-run.js', 'the gateway vs Express + http-proxy-middleware (--before DIR: two builds)'],
  proxies: ['proxy-compare.js', 'the gateway vs nginx and bare http-proxy-middleware, 1 and 10,000 tenants'],
  keys: ['keys-vs-jwt.js', 'API key vs cached JWT authentication through the gateway'],
  admissions: ['redis-admissions.js', 'RedisStore admissions vs the EVALSHA ceiling'],
  flush: ['flush-throughput.js', 'the flusher vs psql \\copy'],
  'usage-api': ['usage-api.js', 'usage API latency with 1,000,000 ledger rows, dashboard load'],
};

const [name, ...args] = process.argv.slice(2);
const bench = name === undefined ? undefined : BENCHES[name];
if (bench === undefined) {
  if (name !== undefined) console.error(`unknown benchmark "${name}"\n`);
  console.error('npm run bench -- <name> [args]; results in docs/benchmarks.md\n');
  for (const [n, [file, what]] of Object.entries(BENCHES))
    console.error(`  ${n.padEnd(11)} ${file.padEnd(22)} ${what}`);
  process.exit(name === undefined ? 0 : 2);
}
const r = spawnSync(process.execPath, [path.join(__dirname, bench[0]), ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
