// Regression: Google APIs take system parameters that reshape the answer: `?alt=proto` (binary protobuf), `?callback=`
// (JSONP), `?fields=` or `X-Goog-FieldMask` (usageMetadata left out). The gateway read such an answer as no LLM answer
// (or one without usage) and released the reservation: the call was served and counted 0 tokens.
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { METERED_CONFIG, startGateway, token, type RunningGateway } from '../support/kit';
import { RequestLineUpstream } from '../support/request-line-upstream';

const GEMINI = '/api/v1beta/models/gemini-2.0-flash';

describe('a Gemini call with a parameter that reshapes its answer', () => {
  let upstream: RequestLineUpstream;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    upstream = await new RequestLineUpstream().start();
    db = await createTestDatabase('reg_google_params');
    gw = await startGateway(
      {
        UPSTREAM_URL: upstream.url,
        REDIS_URL,
        REDIS_PREFIX: uniquePrefix('reg-google-params'),
        DATABASE_URL: db.url,
        FLUSHER: 'off',
      },
      { config: METERED_CONFIG },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  const call = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token({ sub: 'u-google' })}`,
        'content-type': 'application/json',
        ...headers,
      },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'hello' }] }] }),
    });

  it.each([
    [`${GEMINI}:generateContent?alt=proto`, {}, 'alt'],
    [`${GEMINI}:streamGenerateContent?%24alt=proto`, {}, '$alt'],
    [`${GEMINI}:generateContent?alt=media`, {}, 'alt'],
    [`${GEMINI}:generateContent?callback=cb`, {}, 'callback'],
    [`${GEMINI}:generateContent?fields=modelVersion`, {}, 'fields'],
    [`${GEMINI}:generateContent`, { 'x-goog-fieldmask': 'candidates' }, 'X-Goog-FieldMask'],
  ])('%s %j is 400 naming %s, never forwarded', async (path, headers, field) => {
    const res = await call(path, headers);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { field: string }).field).toBe(field);
    expect(upstream.received).toHaveLength(0);
  });

  it('forwards alt=sse and alt=json', async () => {
    expect((await call(`${GEMINI}:streamGenerateContent?alt=sse`)).status).toBe(200);
    expect((await call(`${GEMINI}:generateContent?alt=JSON&key=k`)).status).toBe(200);
    expect(upstream.received).toHaveLength(2);
  });
});
