// Issue 19 (found by the attacker review): a 2xx answer to an LLM call that the reader did not recognise as an LLM
// answer (text/plain, an HTML page, an unrelated JSON, an event stream in an unknown format) released the whole
// reservation, so an upstream answering in another shape was served for nothing. It is now settled as an estimate.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryStore } from '@tollgate/core';
import { createTestDatabase } from '../../../../test-support/services';
import { METERED_CONFIG, dayCounters, startGateway, token, type RunningGateway } from '../support/kit';

const PROMPT = 'x'.repeat(400); // 100 tokens by estimate
const ANSWERS: Record<string, { type: string; body: string }> = {
  'text/plain': { type: 'text/plain', body: 'a'.repeat(80) },
  'an HTML page': { type: 'text/html', body: `<p>${'b'.repeat(73)}</p>` },
  'an unrelated JSON': { type: 'application/json', body: JSON.stringify({ text: 'c'.repeat(69) }) },
  'an unknown event stream': { type: 'text/event-stream', body: `data: ${'d'.repeat(80)}\n\n` },
};

describe('issue 19: a 2xx answer the reader does not recognise is still a served call', () => {
  let upstream: http.Server;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const a = ANSWERS[String(req.headers['x-test-answer'])]!;
        res.writeHead(200, { 'content-type': a.type });
        res.end(a.body);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    db = await createTestDatabase('gw_issue19_unrecognised');
    gw = await startGateway(
      {
        UPSTREAM_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
        DATABASE_URL: db.url,
        FLUSHER: 'off',
      },
      { config: METERED_CONFIG, store: new MemoryStore() },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await new Promise((r) => upstream?.close(r));
    await db?.drop();
  });

  it.each(Object.keys(ANSWERS))('settles %s as an estimate (was released: 0 tokens)', async (name) => {
    const sub = `u-${name.replace(/\W/g, '-')}`;
    const res = await fetch(`${gw.url}/api/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token({ sub })}`,
        'content-type': 'application/json',
        'x-test-answer': name,
      },
      body: JSON.stringify({
        model: 'gpt-4o',
        max_tokens: 500,
        messages: [{ role: 'user', content: PROMPT }],
      }),
    });
    expect(res.status).toBe(200);
    await res.text();
    await gw.gateway.idle();
    const c = await dayCounters(gw.gateway, { userId: sub, plan: 'free' });
    // The prompt's estimate plus 80 characters of answer (20 tokens), not the 500 reserved, not 0.
    expect(c.output_tokens).toBe(20);
    expect(c.input_tokens).toBeGreaterThan(90);
    expect(c.tokens).toBe(c.input_tokens! + c.output_tokens!);
  });
});
