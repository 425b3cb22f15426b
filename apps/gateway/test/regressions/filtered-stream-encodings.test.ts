// Regression: a filtered stream (the client had not asked for usage) in an encoding the gateway cannot decode was
// fed to a gzip decoder, which failed and cut the client's response; a capped response now also warns only once.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { MemoryStore } from '@tollgate/core';
import { createTestDatabase } from '../../../../test-support/services';
import { startGateway, token, type RunningGateway } from '../support/kit';

const CAP = 64 * 1024;
const opaque = Buffer.from('(28 b5 2f fd: zstd frames the gateway cannot read)');
const oversized = Buffer.from(
  [1, 2, 3].map(() => `data: {"choices":[{"delta":{"content":"${'x'.repeat(2 * CAP)}"}}]}\n\n`).join('') +
    'data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}\n\n',
);

describe('filtered streams', () => {
  let upstream: http.Server;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };
  const warnings: string[] = [];

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.headers['x-case'] === 'zstd') {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'zstd' }).end(opaque);
        } else {
          res.writeHead(200, { 'content-type': 'text/event-stream' }).end(oversized);
        }
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    db = await createTestDatabase('gw_filtered_enc');
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        const line = JSON.parse(chunk.toString()) as { msg: string };
        warnings.push(line.msg);
        done();
      },
    });
    gw = await startGateway(
      {
        UPSTREAM_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
        DATABASE_URL: db.url,
        FLUSHER: 'off',
        MAX_BODY_BYTES: String(CAP),
        MAX_RESPONSE_JSON_BYTES: String(CAP),
      },
      { store: new MemoryStore(), logger: pino({ level: 'warn' }, sink) },
    );
  });

  afterAll(async () => {
    await gw?.close();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
    await db?.drop();
  });

  /** A chat stream that did not ask for usage (so the gateway filters it), read raw. */
  const stream = (which: string) =>
    new Promise<{ status: number; encoding: string | undefined; body: Buffer }>((resolve, reject) => {
      const req = http.request(
        `${gw.url}/api/v1/chat/completions`,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token({ sub: 'u-enc' })}`,
            'content-type': 'application/json',
            'x-case': which,
          },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode!,
              encoding: res.headers['content-encoding'],
              body: Buffer.concat(parts),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    });

  it('passes a stream in an encoding it cannot decode through unfiltered, as it came', async () => {
    const r = await stream('zstd');
    expect(r.status).toBe(200);
    expect(r.encoding).toBe('zstd');
    expect(r.body.equals(opaque)).toBe(true);
  });

  it('warns once for a response whose events are over the cap, however many', async () => {
    warnings.length = 0;
    const r = await stream('oversized');
    expect(r.status).toBe(200);
    // Oversized events pass unfiltered; the usage-only chunk after them is still hidden.
    expect(r.body.toString()).toBe(oversized.toString().replace(/data: \{"choices":\[\],"usage".*\n\n$/, ''));
    await gw.gateway.idle();
    expect(warnings.filter((m) => m === 'upstream response not fully read for usage')).toHaveLength(1);
  });
});
