// Regression: Gemini's streamGenerateContent without `?alt=sse` answers a JSON array of response chunks
// (`[{candidates, usageMetadata}, ...]`, Content-Type application/json). The JSON reader took only an object for an
// LLM answer, so the array was "not an LLM response": the reservation was released and the call counted 0 tokens.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { METERED_CONFIG, dayCounters, startGateway, token, type RunningGateway } from '../support/kit';

const CHUNKS = [
  {
    candidates: [{ content: { role: 'model', parts: [{ text: 'Hello' }] } }],
    usageMetadata: { promptTokenCount: 120, candidatesTokenCount: 1, totalTokenCount: 121 },
    modelVersion: 'gemini-2.0-flash',
  },
  {
    candidates: [{ content: { role: 'model', parts: [{ text: ' there, friend' }] }, finishReason: 'STOP' }],
    usageMetadata: { promptTokenCount: 120, candidatesTokenCount: 40, totalTokenCount: 160 },
    modelVersion: 'gemini-2.0-flash',
  },
];

describe('a Gemini stream answered as a JSON array', () => {
  let upstream: http.Server;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/json; charset=UTF-8');
        res.end(`[${CHUNKS.map((c) => JSON.stringify(c)).join(',\r\n')}]`);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    db = await createTestDatabase('reg_gemini_array');
    gw = await startGateway(
      {
        UPSTREAM_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
        REDIS_URL,
        REDIS_PREFIX: uniquePrefix('reg-gemini-array'),
        DATABASE_URL: db.url,
        FLUSHER: 'off',
      },
      {
        config: {
          ...METERED_CONFIG,
          pricing: {
            ...METERED_CONFIG.pricing,
            'gemini/gemini-2.0-flash': { input: '0.10', output: '0.40' },
          },
        },
      },
    );
  });

  afterAll(async () => {
    await gw?.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
    await db?.drop();
  });

  it('counts the usage of its last chunk', async () => {
    const res = await fetch(`${gw.url}/api/v1beta/models/gemini-2.0-flash:streamGenerateContent`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token({ sub: 'u-array' })}`, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'hello' }] }] }),
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(await res.text())).toEqual(CHUNKS);
    await gw.gateway.idle();
    const counters = await dayCounters(gw.gateway, { userId: 'u-array', plan: 'free' });
    expect([counters.input_tokens, counters.output_tokens, counters.tokens]).toEqual([120, 40, 160]);
  });
});
