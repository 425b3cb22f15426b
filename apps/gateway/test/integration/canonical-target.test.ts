// SPEC §4 "One canonical request": every spelling of a route is decided, metered and forwarded as its one canonical form.
import request from 'supertest';
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import {
  METERED_CONFIG,
  dayCounters,
  ledgerByMeter,
  pico,
  startGateway,
  token,
  type RunningGateway,
} from '../support/kit';
import { requestTarget } from '../support/raw-request';
import { RequestLineUpstream, SERVED } from '../support/request-line-upstream';

const COST = Number(pico(SERVED.prompt, '2.50') + pico(SERVED.completion, '10.00'));

/** Request targets a lenient upstream serves as chat completions, and the path it must receive (STRIP_PREFIX=/api). */
const CHAT_SPELLINGS: Array<[string, string]> = [
  ['/api/v1/chat/completions', '/v1/chat/completions'],
  ['/api/v1/chat/completions/', '/v1/chat/completions/'],
  ['/API/V1/CHAT/COMPLETIONS', '/V1/CHAT/COMPLETIONS'],
  ['/api/v1/Chat/Completions', '/v1/Chat/Completions'],
  ['/api/v1/chat/completions#frag', '/v1/chat/completions'],
  ['/api\\v1\\chat\\completions', '/v1/chat/completions'],
  ['//api//v1//chat/completions', '/v1/chat/completions'],
  ['/%61pi/v1/chat/%63ompletions', '/v1/chat/completions'],
  ['/x/../api/v1/chat/completions', '/v1/chat/completions'],
  ['/api/v1/chat/x/%2e%2E/completions', '/v1/chat/completions'],
  ['/api/v1/chat/completions/.', '/v1/chat/completions/'],
  ['/Api/v1/chat/completions;x=1', '/v1/chat/completions;x=1'],
  ['http://example.com/api/v1/chat/completions?x=1#f', '/v1/chat/completions?x=1'],
  ['/api/v1/chat/completions?q=%zz&next=/../a//b', '/v1/chat/completions?q=%zz&next=/../a//b'],
];

describe('one canonical request target', () => {
  let upstream: RequestLineUpstream;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    upstream = await new RequestLineUpstream().start();
    db = await createTestDatabase('gw_canonical');
    gw = await startGateway(
      {
        UPSTREAM_URL: upstream.url,
        STRIP_PREFIX: '/api',
        REDIS_URL,
        REDIS_PREFIX: uniquePrefix('gw-canonical'),
        DATABASE_URL: db.url,
        FLUSHER: 'inline',
        FLUSH_INTERVAL_MS: '600000',
      },
      { config: { ...METERED_CONFIG, unpricedModel: 'block' } },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  const chat = (target: string, userId: string, model = 'gpt-4o') =>
    requestTarget(
      gw.url,
      'POST',
      target,
      {
        authorization: `Bearer ${token({ sub: userId, tenant_id: `t-${userId}`, tier: 'free' })}`,
        'content-type': 'application/json',
      },
      JSON.stringify({ model, max_tokens: 50, messages: [{ role: 'user', content: 'hello' }] }),
    );

  it.each(CHAT_SPELLINGS.map(([target, forwarded], i) => [target, forwarded, `u-spelling-${i}`]))(
    'meters %j as the chat route and forwards %j',
    async (target, forwarded, userId) => {
      const before = upstream.received.length;
      const res = await chat(target, userId);
      expect(res.status).toBe(200);
      expect(upstream.received.slice(before).map((r) => [r.method, r.target])).toEqual([['POST', forwarded]]);
      await gw.gateway.idle();
      expect(await dayCounters(gw.gateway, { tenantId: `t-${userId}`, userId, plan: 'free' })).toMatchObject({
        requests: 1,
        input_tokens: SERVED.prompt,
        output_tokens: SERVED.completion,
        tokens: SERVED.prompt + SERVED.completion,
        cost: COST,
      });
    },
  );

  it('writes the tokens every spelling served to the ledger', async () => {
    await gw.gateway.idle();
    await gw.gateway.flusher!.flushOnce();
    for (let i = 0; i < CHAT_SPELLINGS.length; i++) {
      const rows = await ledgerByMeter(gw.gateway.sql, `u-spelling-${i}`);
      expect([i, rows.tokens?.amount, rows.input_tokens?.models]).toEqual([
        i,
        SERVED.prompt + SERVED.completion,
        'openai/gpt-4o',
      ]);
    }
  });

  it.each(['/API/V1/CHAT/COMPLETIONS', '/api/v1/chat/completions/', '/api\\v1\\chat\\completions#f'])(
    'blocks an unpriced model on %j before the upstream sees it',
    async (target) => {
      const before = upstream.received.length;
      const res = await chat(target, 'u-unpriced', 'mystery-model');
      expect(res.status).toBe(403);
      expect(JSON.parse(res.text)).toMatchObject({ title: 'Model not priced', model: 'mystery-model' });
      expect(upstream.received.length).toBe(before);
    },
  );

  it.each([
    ['/API/x?a=1', '/x?a=1'],
    ['//api/x', '/x'],
    ['/%61pi/x', '/x'],
    ['/x/../api/y', '/y'],
    ['/api', '/'],
    ['/API?q', '/?q'],
    // http-proxy rebuilds the path with url.parse and urlJoin, which escape ' | ^ and turn http:/ into http://.
    ["/api/a'b|c^d?q=\"'|", "/a'b|c^d?q=\"'|"],
    ['/api/http://x', '/http:/x'],
  ])('decides /api on the canonical form: %j is proxied as %j', async (target, forwarded) => {
    const before = upstream.received.length;
    expect((await requestTarget(gw.url, 'GET', target)).status).toBe(401);
    expect(upstream.received.length).toBe(before);
    const auth = { authorization: `Bearer ${token({ sub: 'u-api', tenant_id: 't-api', tier: 'free' })}` };
    expect((await requestTarget(gw.url, 'GET', target, auth)).status).toBe(200);
    expect(upstream.received.slice(before).map((r) => r.target)).toEqual([forwarded]);
  });

  it.each([
    ['/api/v1/chat%2Fcompletions', 'escaped /'],
    ['/api/v1/chat%5Ccompletions', 'escaped \\'],
    ['/api/v1/chat/%zz', 'malformed escape'],
    ['/api/v1/%E0%A4%A', 'truncated escape'],
    ['/api/v1/%C1%81', 'overlong UTF-8'],
    ['/api/v1/chat%00/completions', 'escaped NUL'],
    ['/../api/v1/chat/completions', 'dot segment above the root'],
    ['/%zz', 'malformed escape outside /api'],
  ])('answers 400 problem+json to %j (%s), forwarding nothing', async (target) => {
    const before = upstream.received.length;
    const res = await chat(target, 'u-unreadable');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(res.text)).toMatchObject({ status: 400, title: 'Bad Request' });
    expect(upstream.received.length).toBe(before);
  });

  it('canonicalises the same way when the Express app itself receives the request', async () => {
    const before = upstream.received.length;
    const auth = `Bearer ${token({ sub: 'u-app', tenant_id: 't-app', tier: 'free' })}`;
    const res = await request(gw.gateway.app)
      .post('/API/v1/chat/%63ompletions/')
      .set('authorization', auth)
      .send({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] });
    expect(res.status).toBe(200);
    expect(upstream.received.slice(before).map((r) => r.target)).toEqual(['/v1/chat/completions/']);
    await gw.gateway.idle();
    const counters = await dayCounters(gw.gateway, { tenantId: 't-app', userId: 'u-app', plan: 'free' });
    expect(counters.tokens).toBe(SERVED.prompt + SERVED.completion);
    expect((await request(gw.gateway.app).get('/api/%zz')).status).toBe(400);
  });

  it('routes paths outside /api through the app as they came', async () => {
    expect((await requestTarget(gw.url, 'GET', '/healthz')).status).toBe(200);
    expect((await requestTarget(gw.url, 'GET', '/apix')).status).toBe(404);
  });
});
