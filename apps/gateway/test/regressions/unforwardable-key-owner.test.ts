// Regression: POST /admin/keys accepted an owner no request could carry (a user id with surrounding whitespace or a
// control character): 201 with a secret, then every use of the key was a 401 ("names an identity that cannot be
// forwarded"). Such an owner is a 400 naming the field, as for a JWT claim, and no key is made.
import { memoryGatewayPerFile } from '../support/memory-gateway';
import { token } from '../support/kit';

describe('an API key owner that cannot be forwarded', () => {
  const served = memoryGatewayPerFile('reg_key_owner');
  const admin = { authorization: `Bearer ${token({ sub: 'root', role: 'admin' })}` };

  it('is a 400 naming the field, and a forwardable one still makes a key', async () => {
    const create = (body: Record<string, unknown>) =>
      fetch(`${served.gw.url}/admin/keys`, {
        method: 'POST',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'k', ...body }),
      });
    for (const [field, value] of [
      ['userId', ' alice'],
      ['userId', 'alice\n'],
      ['tenantId', 'acme\u0000'],
      ['tenantId', 'acme '],
    ] as const) {
      const res = await create({ [field]: value });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { errors: Array<{ field: string }> };
      expect(body.errors.map((e) => e.field)).toEqual([field]);
    }
    expect(
      (await (await fetch(`${served.gw.url}/admin/keys`, { headers: admin })).json()) as unknown[],
    ).toEqual([]);

    const ok = await create({ userId: 'zoë', tenantId: 'acme' });
    expect(ok.status).toBe(201);
    const { key } = (await ok.json()) as { key: string };
    expect((await fetch(`${served.gw.url}/api/hello`, { headers: { 'x-api-key': key } })).status).toBe(200);
  });
});
