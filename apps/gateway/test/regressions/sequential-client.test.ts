// A client that sends each LLM call only after the previous response ended is never refused by that call's
// reservation: its settlement is in the store before the end reaches the client (was: the third of six calls on
// the demo plan got 429 "(1110 used)" with 51 tokens actually used, the previous call's 1,059 still held).
import { DEMO_CONFIG } from '../../src/demo-config';
import { createTestDatabase } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { startGateway, token, type RunningGateway } from '../support/kit';

const CAP = 2000; // the demo plan's user cap, tokens a day
const OUTPUT_RESERVE = 1024; // RESERVE_OUTPUT_TOKENS' default: what a call without max_tokens holds for its output

describe('a sequential client on the demo plan (2,000-token user cap)', () => {
  let upstream: LlmUpstream;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_sequential');
    // The in-process counter store, as `npm start` runs it.
    gw = await startGateway(
      { UPSTREAM_URL: upstream.url, STRIP_PREFIX: '/api', DATABASE_URL: db.url, FLUSHER: 'inline' },
      { config: DEMO_CONFIG },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  it('is admitted until its actual usage leaves no room for a call, and the refusal names that usage', async () => {
    const t = token({ sub: 'u-seq', tenant_id: 't-seq', tier: 'free' });
    const before = upstream.reported.length;
    const answers: Array<{ status: number; body: string }> = [];
    for (let i = 0; i < 50; i++) {
      const r = await fetch(`${gw.url}/api/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `call ${i}` }] }),
      });
      answers.push({ status: r.status, body: await r.text() });
    }
    const first = answers.findIndex((a) => a.status !== 200);
    expect(first).toBeGreaterThan(0);
    expect(answers.slice(first).map((a) => a.status)).toEqual(Array(50 - first).fill(429));
    const reported = upstream.reported.slice(before);
    expect(reported).toHaveLength(first);
    const used = reported.reduce((sum, u) => sum + u.input + u.cacheRead + u.cacheWrite + u.output, 0);
    // Refused only once what was used leaves no room for the next call's output reserve.
    expect(used + OUTPUT_RESERVE).toBeGreaterThan(CAP);
    const problem = JSON.parse(answers[first]!.body) as { meter: string; scope: string; used: number };
    expect(problem).toMatchObject({ meter: 'tokens', scope: 'user', used });
  });
});
