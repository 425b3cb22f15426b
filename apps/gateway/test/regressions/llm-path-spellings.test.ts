// Regression: the LLM route was recognised by case-sensitive regexes on the raw path, and http-proxy forwarded a
// path rebuilt by url.parse. `/api/v1/chat/completions/`, `/API/V1/CHAT/COMPLETIONS`, `/api/v1/Chat/Completions`,
// `...#frag` and `\` for `/` were served by a lenient upstream (530 tokens each) with 0 tokens metered.
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import {
  METERED_CONFIG,
  dayCounters,
  ledgerByMeter,
  startGateway,
  token,
  type RunningGateway,
} from '../support/kit';
import { requestTarget } from '../support/raw-request';
import { RequestLineUpstream, SERVED } from '../support/request-line-upstream';

const SPELLINGS = [
  '/api/v1/chat/completions/',
  '/API/V1/CHAT/COMPLETIONS',
  '/api/v1/Chat/Completions',
  '/api/v1/chat/completions#frag',
  '/api\\v1\\chat\\completions',
];

describe('every spelling of the chat route a lenient upstream serves is metered', () => {
  let upstream: RequestLineUpstream;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    upstream = await new RequestLineUpstream().start();
    db = await createTestDatabase('gw_spellings');
    gw = await startGateway(
      {
        UPSTREAM_URL: upstream.url,
        REDIS_URL,
        REDIS_PREFIX: uniquePrefix('gw-spellings'),
        DATABASE_URL: db.url,
        FLUSHER: 'inline',
        FLUSH_INTERVAL_MS: '600000',
      },
      { config: METERED_CONFIG },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  it('counts and ledgers the tokens the upstream served, for each spelling', async () => {
    for (const [i, target] of SPELLINGS.entries()) {
      const res = await requestTarget(
        gw.url,
        'POST',
        target,
        {
          authorization: `Bearer ${token({ sub: `u-${i}`, tenant_id: `t-${i}`, tier: 'free' })}`,
          'content-type': 'application/json',
        },
        JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      );
      expect(res.status).toBe(200);
    }
    expect(upstream.received).toHaveLength(SPELLINGS.length);
    await gw.gateway.idle();
    await gw.gateway.flusher!.flushOnce();
    const served = SERVED.prompt + SERVED.completion;
    for (const i of SPELLINGS.keys()) {
      const counters = await dayCounters(gw.gateway, {
        tenantId: `t-${i}`,
        userId: `u-${i}`,
        plan: 'free',
      });
      const ledger = await ledgerByMeter(gw.gateway.sql, `u-${i}`);
      expect([SPELLINGS[i], counters.tokens, ledger.tokens?.amount]).toEqual([SPELLINGS[i], served, served]);
    }
  });
});
