// Regression: the identity signature covered only the identity and a timestamp, so a captured header set verified on
// any other method or path; it now covers the method and the path the upstream receives.
import { MemoryStore } from '@tollgate/core';
import { verifyIdentitySignature } from '@tollgate/http';
import { createTestDatabase } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { startGateway, token, type RunningGateway } from '../support/kit';

const SIGNING = 'regression-signing-secret-0123456789';

describe('the forwarded identity signature', () => {
  let upstream: LlmUpstream;
  let db: { url: string; drop: () => Promise<void> };
  let gw: RunningGateway;

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('reg_signature');
    gw = await startGateway(
      {
        UPSTREAM_URL: `${upstream.url}/v2`,
        STRIP_PREFIX: '/api',
        GATEWAY_SIGNING_SECRET: SIGNING,
        DATABASE_URL: db.url,
        FLUSHER: 'off',
      },
      { store: new MemoryStore() },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  it('verifies only for the method and path the upstream received', async () => {
    const res = await fetch(`${gw.url}/api/items?page=2`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token({ sub: 'alice', tenant_id: 'acme' })}` },
    });
    expect(res.status).toBe(200);
    const seen = upstream.last();
    expect([seen.method, seen.url]).toEqual(['DELETE', '/v2/items?page=2']);
    const id = { userId: 'alice', tenantId: 'acme', tier: null, email: null, role: null };
    const sig = seen.headers['x-tollgate-signature'] as string;
    const verifies = (method: string, path: string) =>
      verifyIdentitySignature(SIGNING, sig, id, { method, path }).ok;
    expect([
      verifies('DELETE', '/v2/items?page=2'),
      verifies('GET', '/v2/items?page=2'),
      verifies('DELETE', '/v2/admin'),
      verifies('DELETE', '/v2/items'),
    ]).toEqual([true, false, false, false]);
  });
});
