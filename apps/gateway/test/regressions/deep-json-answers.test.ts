// Upstream answers nested deeper than JSON.stringify's stack (JSON.parse has none, so they parse): a streamed event
// with `"usage": null` the SSE filter re-serializes, gzip-encoded (its throw escaped the filter's pipe and killed the
// process; unencoded, the filter's caller caught it and cut the client's copy), and a JSON array answer of no known
// stream format, whose size was measured by re-serializing it (a throw in the upstream handler). Each is now passed
// to the client as it came, and the gateway stays up.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { gatewayProcessBefore, probe, token, type GatewayProcessBefore } from '../support/raw-upstream';

const DEPTH = 100_000;
const nested = '['.repeat(DEPTH) + ']'.repeat(DEPTH);
const deepEvent = `data: {"choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null,"x":${nested}}\n\n`;
const stream = Buffer.from(deepEvent + 'data: [DONE]\n\n');
const array = Buffer.from(`[${nested}]`);

describe('upstream answers nested too deep to re-serialize', () => {
  let upstream: http.Server;
  let g: GatewayProcessBefore;

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const which = req.headers['x-case'];
        if (which === 'sse-gzip') {
          res
            .writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' })
            .end(gzipSync(stream));
        } else if (which === 'sse') res.writeHead(200, { 'content-type': 'text/event-stream' }).end(stream);
        else res.writeHead(200, { 'content-type': 'application/json' }).end(array);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    g = await gatewayProcessBefore(
      'gw_deep_json',
      `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
    );
  }, 60_000);

  afterAll(async () => {
    await g?.stop();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
  });

  /** A chat call (streamed unless `json`), without stream_options: the gateway adds include_usage and filters. */
  const call = async (which: string): Promise<{ status: number; body: string }> => {
    const r = await fetch(`${g.gw.url}/api/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token({ sub: 'u-deep' })}`,
        'content-type': 'application/json',
        'accept-encoding': 'identity',
        'x-case': which,
      },
      body: JSON.stringify({
        model: 'gpt-4o',
        stream: which !== 'json',
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    return { status: r.status, body: await r.text() };
  };

  it.each(['sse', 'sse-gzip'])('%s: the event passes as it came, the gateway stays up', async (which) => {
    const answer = await call(which);
    expect(answer.status).toBe(200);
    expect(answer.body).toBe(stream.toString('utf8'));
    expect(await probe(g.gw.url)).toBe('up');
  });

  it('a JSON array answer: passed as it came, the gateway stays up', async () => {
    const answer = await call('json');
    expect(answer.status).toBe(200);
    expect(answer.body).toBe(array.toString('utf8'));
    expect(await probe(g.gw.url)).toBe('up');
  });
});
