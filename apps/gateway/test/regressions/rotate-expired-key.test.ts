// Regression: POST /admin/keys/:id/rotate on an expired key answered 201 with a new secret that carried the old
// expiry, so it was refused ("API key expired") on its first use. Rotating an expired key is a 409, like a revoked one.
import { memoryGatewayPerFile } from '../support/memory-gateway';
import { token } from '../support/kit';

describe('rotating an expired API key', () => {
  const served = memoryGatewayPerFile('reg_rotate_expired');
  const admin = { authorization: `Bearer ${token({ sub: 'root', role: 'admin' })}` };

  it('answers 409 and makes no key', async () => {
    const created = await fetch(`${served.gw.url}/admin/keys`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'short',
        userId: 'dora',
        expiresAt: new Date(Date.now() + 300).toISOString(),
      }),
    });
    expect(created.status).toBe(201);
    const { id, key } = (await created.json()) as { id: string; key: string };
    // Expired for the gateway too, so the wait is observed, not assumed.
    for (;;) {
      const res = await fetch(`${served.gw.url}/api/hello`, { headers: { 'x-api-key': key } });
      const body = await res.text();
      if (res.status === 401 && body.includes('API key expired')) break;
      await new Promise((r) => setTimeout(r, 50));
    }

    const rotated = await fetch(`${served.gw.url}/admin/keys/${id}/rotate`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ graceSeconds: 60 }),
    });
    expect(rotated.status).toBe(409);
    expect(((await rotated.json()) as { detail: string }).detail).toBe(`API key ${id} is expired`);
    const listed = (await (
      await fetch(`${served.gw.url}/admin/keys?userId=dora`, { headers: admin })
    ).json()) as unknown[];
    expect(listed).toHaveLength(1);
  });
});
