// Found by a review helper. A webhook receiver's answer is read whole (`await res.arrayBuffer()` in WebhookDispatcher.deliver) with no bound,
// and fetch decodes its Content-Encoding: 256 KiB of gzip from the receiver is 256 MiB in the gateway's memory
// (and a longer one, within the 5 s timeout, gigabytes: the process is killed for memory). The answer's body is of
// no use to the dispatcher (only its status is).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { Client } from 'pg';
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { METERED_CONFIG, SECRET, configFile } from '../support/kit';

const DECODED = 256 * 1024 * 1024;
const bomb = gzipSync(Buffer.alloc(DECODED), { level: 9 });

/** Resident set size of a process (MiB), and its peak so far. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]) / 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

describe('a webhook receiver answering with a large (compressed) body', () => {
  let receiver: http.Server;
  let gw: GatewayProcess;
  let db: { url: string; drop: () => Promise<void> };
  let delivered = 0;

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        delivered++;
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(bomb);
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    db = await createTestDatabase('gw_webhook_body');
    gw = await startGatewayProcess({
      REDIS_URL,
      REDIS_PREFIX: uniquePrefix('gw-webhook-body'),
      DATABASE_URL: db.url,
      FLUSHER: 'off',
      JWT_SECRET: SECRET,
      UPSTREAM_URL: 'http://127.0.0.1:9',
      TOLLGATE_CONFIG: configFile({
        ...METERED_CONFIG,
        webhooks: [{ url, events: ['threshold'], secret: 'webhook-secret-0123456789' }],
      }),
    });
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
    receiver?.closeAllConnections();
    await new Promise((r) => receiver?.close(r));
    await db?.drop();
  });

  it("holds no more than a bounded copy of the receiver's answer", async () => {
    // Let the dispatcher's first pass register the endpoint (events before it are not sent).
    await new Promise((r) => setTimeout(r, 1500));
    const before = memory(gw.child.pid!);
    const sql = new Client({ connectionString: db.url });
    await sql.connect();
    await sql.query(
      `INSERT INTO usage_events (type, tenant_id, user_id, meter, period, details, occurred_at, batch_id)
       VALUES ('threshold', NULL, 'u-hook', 'requests', 'day', '{"threshold":80}', now(), 'hunt')`,
    );
    await sql.end();
    const deadline = Date.now() + 15_000;
    while (delivered === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 3000));
    const after = memory(gw.child.pid!);
    console.log(
      `delivered ${delivered}x; gzip body ${bomb.length} bytes; gateway RSS ${before.rss.toFixed(0)} MiB -> peak ${after.peak.toFixed(0)} MiB`,
    );
    expect(delivered).toBeGreaterThan(0);
    expect(after.peak - before.peak).toBeLessThan(64);
  }, 30_000);
});
