// Regression: DELETE /usage/keys/:id from a credential naming no user (a tenant-only JWT, or a tenant's own key)
// revoked every user-less key of its tenant, 204: ownership compared null with null. Listing and creating keys
// already refused such a caller ("names no user"); revoking is now refused the same way (403), and the key works on.
import { MemoryStore } from '@tollgate/core';
import { createTestDatabase } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { startGateway, token, type RunningGateway } from '../support/kit';

describe('revoking keys without a user', () => {
  let upstream: LlmUpstream;
  let db: { url: string; drop: () => Promise<void> };
  let gw: RunningGateway;
  const admin = { authorization: `Bearer ${token({ sub: 'root', role: 'admin' })}` };

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('reg_userless_revoke');
    gw = await startGateway(
      { UPSTREAM_URL: upstream.url, DATABASE_URL: db.url, FLUSHER: 'off' },
      { store: new MemoryStore() },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  const tenantKey = async (name: string) => {
    const res = await fetch(`${gw.url}/admin/keys`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ name, tenantId: 'acme' }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string; key: string };
  };

  it('answers 403 to a tenant-only JWT and to a tenant key, and the keys keep working', async () => {
    const billing = await tenantKey('billing-service');
    const batch = await tenantKey('batch-service');
    for (const caller of [
      { authorization: `Bearer ${token({ tenant_id: 'acme' })}` },
      { 'x-api-key': batch.key },
    ]) {
      const res = await fetch(`${gw.url}/usage/keys/${billing.id}`, { method: 'DELETE', headers: caller });
      expect(res.status).toBe(403);
    }
    expect((await fetch(`${gw.url}/api/hello`, { headers: { 'x-api-key': billing.key } })).status).toBe(200);
    // An admin still revokes it.
    expect(
      (await fetch(`${gw.url}/admin/keys/${billing.id}`, { method: 'DELETE', headers: admin })).status,
    ).toBe(204);
  });
});
