// Regression: a Gemini call names its model in the path (`/models/<model>:generateContent`), and that is the model
// the upstream runs; the gateway read a `model` field of the body first. `unpricedModel: block` was walked around by
// an unpriced model in the path and a priced one in the body (the upstream served the unpriced model), and a tuned
// model (`/tunedModels/<id>:generateContent`) was no LLM call at all (forwarded unmetered).
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { METERED_CONFIG, startGateway, token, type RunningGateway } from '../support/kit';
import { RequestLineUpstream } from '../support/request-line-upstream';

describe('a Gemini call is blocked and metered by the model in its path', () => {
  let upstream: RequestLineUpstream;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    upstream = await new RequestLineUpstream().start();
    db = await createTestDatabase('gw_gemini_model');
    gw = await startGateway(
      {
        UPSTREAM_URL: upstream.url,
        REDIS_URL,
        REDIS_PREFIX: uniquePrefix('gw-gemini-model'),
        DATABASE_URL: db.url,
      },
      {
        config: {
          ...METERED_CONFIG,
          unpricedModel: 'block',
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
    await upstream?.stop();
    await db?.drop();
  });

  const call = (path: string, body: unknown) =>
    fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token({ sub: 'u-gemini' })}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('refuses an unpriced model in the path whatever model the body names', async () => {
    const contents = [{ parts: [{ text: 'hello' }] }];
    const answers = [];
    for (const [path, body] of [
      ['/api/v1beta/models/gemini-unpriced:generateContent', { model: 'gemini-2.0-flash', contents }],
      [
        '/api/v1beta/models/gemini-unpriced:streamGenerateContent?alt=sse',
        { model: 'models/gemini-2.0-flash', contents },
      ],
      ['/api/v1beta/tunedModels/my-tuned-model:generateContent', { contents }],
    ] as const) {
      const res = await call(path, body);
      answers.push([path, res.status, ((await res.json()) as { model?: string }).model]);
    }
    expect(answers).toEqual([
      ['/api/v1beta/models/gemini-unpriced:generateContent', 403, 'gemini-unpriced'],
      ['/api/v1beta/models/gemini-unpriced:streamGenerateContent?alt=sse', 403, 'gemini-unpriced'],
      ['/api/v1beta/tunedModels/my-tuned-model:generateContent', 403, 'my-tuned-model'],
    ]);
    expect(upstream.received).toHaveLength(0);
  });

  it('still serves a priced model in the path', async () => {
    const res = await call('/api/v1beta/models/gemini-2.0-flash:generateContent', {
      contents: [{ parts: [{ text: 'hello' }] }],
    });
    expect(res.status).toBe(200);
    expect(upstream.received).toHaveLength(1);
  });
});
