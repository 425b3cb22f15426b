// Regression: a claim above U+00FF (a CJK tenant name, an IDN email) made every request of that user fail with
// 500 ERR_INVALID_CHAR; a claim with surrounding spaces was metered as "u " while the upstream received "u".
import { memoryGatewayPerFile } from '../support/memory-gateway';
import { dayCounters, token } from '../support/kit';

describe('claims that are not plain ASCII header values', () => {
  const served = memoryGatewayPerFile('reg_claims');

  const call = (claims: Record<string, unknown>) =>
    fetch(`${served.gw.url}/api/whoami`, { headers: { authorization: `Bearer ${token(claims)}` } });

  it('serve a CJK tenant and an IDN email, forwarded percent-encoded', async () => {
    const res = await call({ sub: 'u1', tenant_id: '租户', email: 'user@例え.jp' });
    expect(res.status).toBe(200);
    expect(served.upstream.last().headers).toMatchObject({
      'x-tenant-id': '%E7%A7%9F%E6%88%B7',
      'x-user-email': 'user@%E4%BE%8B%E3%81%88.jp',
    });
  });

  it('refuse surrounding spaces with 401 instead of metering another id than the upstream sees', async () => {
    const res = await call({ sub: 'u ' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ detail: 'claim "sub" must not start or end with whitespace' });
    await served.gw.gateway.idle();
    expect((await dayCounters(served.gw.gateway, { userId: 'u ' })).requests ?? 0).toBe(0);
  });
});
