// Regression: DELETE /usage/keys/:id from a credential naming no user (a tenant-only JWT, or a tenant's own key)
// revoked every user-less key of its tenant, 204: ownership compared null with null. Listing and creating keys
// already refused such a caller ("names no user"); revoking is now refused the same way (403), and the key works on.
import { memoryGatewayPerFile } from '../support/memory-gateway';
import { token } from '../support/kit';

describe('revoking keys without a user', () => {
  const served = memoryGatewayPerFile('reg_userless_revoke');
  const admin = { authorization: `Bearer ${token({ sub: 'root', role: 'admin' })}` };

  const tenantKey = async (name: string) => {
    const res = await fetch(`${served.gw.url}/admin/keys`, {
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
      const res = await fetch(`${served.gw.url}/usage/keys/${billing.id}`, {
        method: 'DELETE',
        headers: caller,
      });
      expect(res.status).toBe(403);
    }
    expect(
      (await fetch(`${served.gw.url}/api/hello`, { headers: { 'x-api-key': billing.key } })).status,
    ).toBe(200);
    // An admin still revokes it.
    expect(
      (await fetch(`${served.gw.url}/admin/keys/${billing.id}`, { method: 'DELETE', headers: admin })).status,
    ).toBe(204);
  });
});
