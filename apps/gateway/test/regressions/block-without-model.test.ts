// Regression: under `unpricedModel: block`, a call with no `model` passed unblocked: the upstream runs its default
// (vLLM's served model, an Azure deployment named in the path), which the gateway cannot price.
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { METERED_CONFIG, startGateway, token, type RunningGateway } from '../support/kit';
import { RequestLineUpstream } from '../support/request-line-upstream';

describe('unpricedModel: block and a call that names no model', () => {
  let upstream: RequestLineUpstream;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    upstream = await new RequestLineUpstream().start();
    db = await createTestDatabase('reg_block_no_model');
    gw = await startGateway(
      {
        UPSTREAM_URL: upstream.url,
        REDIS_URL,
        REDIS_PREFIX: uniquePrefix('reg-block-no-model'),
        DATABASE_URL: db.url,
        FLUSHER: 'off',
      },
      { config: { ...METERED_CONFIG, unpricedModel: 'block' } },
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
      headers: {
        authorization: `Bearer ${token({ sub: 'u-no-model' })}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(body),
    });

  it.each([
    ['/api/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] }],
    ['/api/openai/deployments/big-one/chat/completions?api-version=2024-06-01', { messages: [] }],
  ])('%s %j is 403, never forwarded', async (path, body) => {
    const res = await call(path, body);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { model: unknown }).model).toBeNull();
    expect(upstream.received).toHaveLength(0);
  });

  it('forwards a priced model', async () => {
    const res = await call('/api/v1/chat/completions', { model: 'gpt-4o', messages: [] });
    expect(res.status).toBe(200);
    expect(upstream.received).toHaveLength(1);
  });
});
