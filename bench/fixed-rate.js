// Open-loop load at a fixed request rate for the middleware benches: GET /api/hello with one tenant's identity
// headers, each request timed with hrtime.
'use strict';
const http = require('node:http');

const HEADERS = { 'x-tenant-id': 'bench-tenant', 'x-user-id': 'bench-user', 'x-user-tier': 'bench' };

/** Sends `rate` req/s for `seconds` on keep-alive connections and returns p50/p99 latency in ms (µs precision). */
function latencyAtRate(port, rate, seconds) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const total = rate * seconds;
  const durations = [];
  let sent = 0;
  let failed = 0;
  const t0 = performance.now();
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
      for (; sent < due; sent++) {
        const start = process.hrtime.bigint();
        const req = http.get(
          { agent, host: '127.0.0.1', port, path: '/api/hello', headers: HEADERS },
          (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode !== 200) failed += 1;
              durations.push(Number(process.hrtime.bigint() - start) / 1e6);
            });
          },
        );
        req.on('error', () => {
          failed += 1;
          durations.push(NaN);
        });
      }
      if (durations.length >= total) {
        clearInterval(timer);
        agent.destroy();
        const ok = durations.filter((d) => !Number.isNaN(d)).sort((a, b) => a - b);
        const at = (q) => ok[Math.min(ok.length - 1, Math.floor(q * ok.length))];
        resolve({ p50: at(0.5), p99: at(0.99), failed, samples: ok });
      }
    }, 1);
  });
}

module.exports = { HEADERS, latencyAtRate };
