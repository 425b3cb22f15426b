// Regression: POST /usage/keys authenticated by an API key minted a new key with no expiry and none of the caller
// key's overrides (201), so a leaked or time-limited key outlived its own revocation and expiry through a key
// revoking it never reached. A key is created with a JWT; a key-authenticated caller gets 403.
import { MemoryStore } from '@tollgate/core';
import { createTestDatabase } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { configFile, startGateway, token, type RunningGateway } from '../support/kit';

const CONFIG = { defaultPlan: 'free', plans: { free: { limits: { requests: { day: 1000 } } } } };

describe('an API key cannot create API keys', () => {
  let upstream: LlmUpstream;
  let db: { url: string; drop: () => Promise<void> };
  let gw: RunningGateway;
  const admin = token({ sub: 'root', role: 'admin' });
  const alice = token({ sub: 'alice', tenant_id: 'acme', tier: 'free' });

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('reg_key_mint');
    gw = await startGateway(
      {
        UPSTREAM_URL: upstream.url,
        DATABASE_URL: db.url,
        FLUSHER: 'off',
        TOLLGATE_CONFIG: configFile(CONFIG),
      },
      { store: new MemoryStore() },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  const post = (path: string, headers: Record<string, string>, body: unknown) =>
    fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('answers 403 to a key (either header), and keeps creating keys for a JWT', async () => {
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const issued = await post(
      '/admin/keys',
      { authorization: `Bearer ${admin}` },
      { name: 'contractor', tenantId: 'acme', userId: 'alice', tier: 'free', expiresAt },
    );
    expect(issued.status).toBe(201);
    const { key } = (await issued.json()) as { key: string };

    for (const headers of [{ 'x-api-key': key }, { authorization: `Bearer ${key}` }]) {
      const res = await post('/usage/keys', headers, { name: 'forever' });
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(((await res.json()) as { detail: string }).detail).toMatch(/API key cannot create/);
    }
    const listed = (await (
      await fetch(`${gw.url}/usage/keys`, { headers: { authorization: `Bearer ${alice}` } })
    ).json()) as Array<{ name: string }>;
    expect(listed.map((k) => k.name)).toEqual(['contractor']);

    expect((await post('/usage/keys', { authorization: `Bearer ${alice}` }, { name: 'mine' })).status).toBe(
      201,
    );
  });
});
