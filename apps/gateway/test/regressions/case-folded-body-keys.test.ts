// Regression: Go's encoding/json (Ollama, LocalAI, one-api) matches JSON keys ignoring case, by Unicode folding. A
// body with `"MODEL"` (or `"model"` and then `"Model"`) ran that model upstream while the gateway read `model` only:
// an unpriced model walked past `unpricedModel: block`, and `"Max_Tokens"`/`"ſtream"` were not reserved or streamed
// as the upstream read them.
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { METERED_CONFIG, startGateway, token, type RunningGateway } from '../support/kit';
import { RequestLineUpstream } from '../support/request-line-upstream';

describe('a metered field spelt in another case', () => {
  let upstream: RequestLineUpstream;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    upstream = await new RequestLineUpstream().start();
    db = await createTestDatabase('gw_folded_keys');
    gw = await startGateway(
      {
        UPSTREAM_URL: upstream.url,
        REDIS_URL,
        REDIS_PREFIX: uniquePrefix('gw-folded-keys'),
        DATABASE_URL: db.url,
      },
      { config: { ...METERED_CONFIG, unpricedModel: 'block' } },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  const call = (body: string) =>
    fetch(`${gw.url}/api/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token({ sub: 'u-folded' })}`, 'content-type': 'application/json' },
      body,
    });
  const messages = '"messages":[{"role":"user","content":"hi"}]';

  it.each([
    [`{"MODEL":"unpriced-model",${messages}}`, 'MODEL'],
    [`{"model":"gpt-4o","Model":"unpriced-model",${messages}}`, 'Model'],
    [`{"model":"gpt-4o","mod\\u0045l":"unpriced-model",${messages}}`, 'modEl'],
    [`{"model":"gpt-4o","Max_Tokens":500000,${messages}}`, 'Max_Tokens'],
    [`{"model":"gpt-4o","\u017ftream":true,${messages}}`, '\u017ftream'],
  ])('%s is refused 400 naming %s, never forwarded', async (body, key) => {
    const res = await call(body);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { detail: string }).detail).toContain(`"${key}"`);
    expect(upstream.received).toHaveLength(0);
  });

  it('takes other keys in any case, and metered names inside nested objects', async () => {
    const res = await call(`{"model":"gpt-4o","Temperature":0,"metadata":{"MODEL":"x"},${messages}}`);
    expect(res.status).toBe(200);
    expect(upstream.received).toHaveLength(1);
  });
});
