// A streamed LLM call's last event (`data: [DONE]`) reaches the client only once the call's tokens are in the store:
// a client (an SDK) that stops reading there is counted already (was: the last event went out at once, and the
// tokens were settled after the response closed).
import http from 'node:http';
import { MemoryStore } from '@tollgate/core';
import { createTestDatabase } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { METERED_CONFIG, dayCounters, startGateway, token, type RunningGateway } from '../support/kit';

/** POSTs a streamed chat call and resolves with the text read up to and including `data: [DONE]`. */
function readUntilDone(url: string, auth: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString('utf8');
          if (text.includes('data: [DONE]')) {
            resolve(text);
            res.destroy();
          }
        });
        res.on('end', () => reject(new Error(`ended without [DONE]: ${text}`)));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('a streamed LLM call', () => {
  let upstream: LlmUpstream;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_sse_last');
    // Usage writes take 30 ms: a last event that does not wait for its write reaches the client first.
    const store = new MemoryStore();
    const apply = store.apply.bind(store);
    store.apply = async (op) => {
      if (op.mode === 'record') await new Promise((r) => setTimeout(r, 30));
      return apply(op);
    };
    gw = await startGateway(
      { UPSTREAM_URL: upstream.url, STRIP_PREFIX: '/api', DATABASE_URL: db.url, FLUSHER: 'inline' },
      { config: METERED_CONFIG, store },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  it('has its tokens in the counters when the client reads its last event', async () => {
    const auth = `Bearer ${token({ sub: 'u-sse', tenant_id: 't-sse', tier: 'free' })}`;
    for (let i = 0; i < 5; i++) {
      const before = (await dayCounters(gw.gateway, { tenantId: 't-sse' })).tokens ?? 0;
      const body = JSON.stringify({
        model: 'gpt-4o',
        stream: true,
        messages: [{ role: 'user', content: `stream ${i} ${'y'.repeat(i * 7)}` }],
      });
      await readUntilDone(`${gw.url}/api/v1/chat/completions`, auth, body);
      const counters = await dayCounters(gw.gateway, { tenantId: 't-sse' });
      const u = upstream.reported[upstream.reported.length - 1]!;
      expect(counters.tokens! - before).toBe(u.input + u.cacheRead + u.cacheWrite + u.output);
    }
  });
});
