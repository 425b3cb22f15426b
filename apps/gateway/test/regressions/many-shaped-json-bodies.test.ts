// Regression: JSON.parse costs by the hidden classes a body's objects build, far more than by its bytes. A 4 MiB
// request of objects with fresh key names (or 100 names in shuffled orders) passed every bound the gateway had
// (containers, values, depth) and blocked its event loop for 0.4-2.4 s per request, every other request waiting;
// any authenticated tenant could send one. Now refused with 413 before parsing (json-structure.ts: hidden classes,
// interned strings, dictionary and index keys).
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { MAX_JSON_SHAPES } from '../../src/json-structure';
import { LlmUpstream } from '../support/llm-upstream';
import { dayCounters, startGateway, token, type RunningGateway } from '../support/kit';
import { rawRequest } from '../support/raw-http';

const PATH = '/api/v1/chat/completions';
const MIB4 = 4 * 1024 * 1024;

/** A chat request padded to nearly 4 MiB with objects `make(i)` builds, under `x`. */
function padded(make: (i: number) => Record<string, unknown>): string {
  const head = '{"model":"gpt-4o","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"x":[';
  const parts: string[] = [];
  let size = head.length;
  for (let i = 0; size < MIB4 - 4096; i++) {
    const part = JSON.stringify(make(i));
    parts.push(part);
    size += part.length + 1;
  }
  return `${head}${parts.join(',')}]}`;
}

let fresh = 0;
/** Eight keys never used before. */
const freshKeys = () => Object.fromEntries(Array.from({ length: 8 }, () => [`k${fresh++}`, 1]));
/** 80 of 100 names, in an order of their own (a deterministic shuffle). */
const shuffled = (i: number) => {
  const names = Array.from({ length: 100 }, (_, k) => `p${(k * 37 + i * 11) % 100}`);
  for (let k = names.length - 1; k > 0; k--) {
    const j = (i * 7919 + k * 104729) % (k + 1);
    [names[k], names[j]] = [names[j]!, names[k]!];
  }
  return Object.fromEntries(names.slice(0, 80).map((n) => [n, 1]));
};

/** 128 tools (OpenAI's most) of ten parameters each, every parameter named apart: about 1,500 key sequences. */
const TOOLS = Array.from({ length: 128 }, (_, i) => ({
  type: 'function',
  function: {
    name: `tool_${i}`,
    description: 'looks something up',
    parameters: {
      type: 'object',
      properties: Object.fromEntries(
        Array.from({ length: 10 }, (_, k) => [`t${i}_p${k}`, { type: 'string', description: 'a value' }]),
      ),
      required: [`t${i}_p0`],
    },
  },
}));

describe('request bodies whose objects build too many hidden classes', () => {
  let upstream: LlmUpstream;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };
  let user = 0;

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_json_shapes');
    gw = await startGateway({
      UPSTREAM_URL: upstream.url,
      STRIP_PREFIX: '/api',
      REDIS_URL,
      REDIS_PREFIX: uniquePrefix('gw-json-shapes'),
      DATABASE_URL: db.url,
      FLUSHER: 'inline',
      FLUSH_INTERVAL_MS: '600000',
    });
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  const send = (sub: string, body: string) =>
    rawRequest(
      gw.url,
      PATH,
      { authorization: `Bearer ${token({ sub })}`, 'content-type': 'application/json' },
      body,
    );

  it.each([
    ['objects of fresh key names', freshKeys],
    ['100 names in shuffled orders', shuffled],
  ])('refuses 4 MiB of %s with 413, unforwarded and uncounted', async (_name, make) => {
    const sub = `u-shapes-${user++}`;
    const before = upstream.received.length;
    const res = await send(sub, padded(make));
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    expect(JSON.parse(res.text)).toMatchObject({
      status: 413,
      title: 'Payload Too Large',
      detail: `the body's objects spell more than ${MAX_JSON_SHAPES} distinct key sequences`,
    });
    expect(upstream.received.length).toBe(before);
    await gw.gateway.idle();
    const counted = await dayCounters(gw.gateway, { userId: sub, plan: 'free' });
    expect(Object.values(counted).filter((v) => v !== 0)).toEqual([]);
  });

  it('forwards and meters 128 tools of ten parameters each, and 4 MiB of objects of one shape', async () => {
    for (const body of [
      JSON.stringify({
        model: 'gpt-4o',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'hi' }],
        tools: TOOLS,
      }),
      padded((i) => ({
        id: i,
        score: i * 2,
        rank: 1,
        label: `item ${i}: ${'of the same shape, '.repeat(12)}`,
      })),
    ]) {
      const sub = `u-shapes-${user++}`;
      const res = await send(sub, body);
      expect([res.status, res.text.slice(0, 100)]).toEqual([200, expect.any(String)]);
      expect(upstream.last().body.length).toBe(body.length);
      await gw.gateway.idle();
      expect((await dayCounters(gw.gateway, { userId: sub, plan: 'free' })).requests).toBe(1);
    }
  });
});
