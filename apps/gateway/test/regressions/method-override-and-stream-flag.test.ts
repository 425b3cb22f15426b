// Issue 19 (found by the adversarial suite): a GET carrying a chat body with a method-override header, and a
// `stream` that is not a boolean, reached a lenient upstream as an LLM call the gateway had not metered as one.
import { MemoryStore } from '@tollgate/core';
import { createTestDatabase } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { METERED_CONFIG, startGateway, token, type RunningGateway } from '../support/kit';
import { rawRequest } from '../support/raw-http';

const PATH = '/api/v1/chat/completions';
const BODY = JSON.stringify({ model: 'gpt-4o', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });

describe('issue 19: method overrides and lax stream flags', () => {
  let upstream: LlmUpstream;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_issue19_override');
    gw = await startGateway(
      { UPSTREAM_URL: upstream.url, STRIP_PREFIX: '/api', DATABASE_URL: db.url, FLUSHER: 'off' },
      { config: METERED_CONFIG, store: new MemoryStore() },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  const headers = {
    authorization: `Bearer ${token({ sub: 'u-override' })}`,
    'content-type': 'application/json',
  };

  it.each(['X-HTTP-Method-Override', 'X-HTTP-Method', 'X_Method_Override'])(
    'refuses a GET with a body and %s: POST with 405, forwarding nothing (was forwarded unmetered)',
    async (name) => {
      const before = upstream.received.length;
      const res = await rawRequest(gw.url, PATH, { ...headers, [name]: 'POST' }, BODY, 'GET');
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('POST');
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(upstream.received.length).toBe(before);
    },
  );

  it('never forwards a method-override header on other requests', async () => {
    const res = await rawRequest(
      gw.url,
      '/api/hello',
      { ...headers, 'X-HTTP-Method-Override': 'DELETE' },
      '',
    );
    expect(res.status).toBe(200);
    expect(upstream.last().headers['x-http-method-override']).toBeUndefined();
  });

  it.each([['"true"'], ['1']])(
    'refuses "stream": %s with 400 naming stream (was read as no stream)',
    async (v) => {
      const before = upstream.received.length;
      const body = BODY.replace('{', `{"stream":${v},`);
      const res = await rawRequest(gw.url, PATH, headers, body);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text).field).toBe('stream');
      expect(upstream.received.length).toBe(before);
    },
  );
});
