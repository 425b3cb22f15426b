// Regression: the usage API answered 401 without `WWW-Authenticate` and without `Cache-Control: no-store` (its own
// problem+json module had drifted from the proxy's), so a client could not tell how to authenticate and a cache on
// the way could keep the refusal. Every 401 the gateway sends now carries the same challenge and headers.
import { memoryGatewayPerFile } from '../support/memory-gateway';

describe('usage-API 401s', () => {
  const running = memoryGatewayPerFile('reg_usage_401');

  it.each(['/usage/quota', '/usage/stats', '/usage/keys', '/admin/keys'])(
    'GET %s without a credential asks for a bearer token, uncached, like the proxy',
    async (path) => {
      const res = await fetch(`${running.gw.url}${path}`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="tollgate"');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      const proxied = await fetch(`${running.gw.url}/api/anything`);
      expect(proxied.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(proxied.headers.get('www-authenticate'));
    },
  );

  it('names the bad token in the challenge (RFC 6750 invalid_token)', async () => {
    const res = await fetch(`${running.gw.url}/usage/quota`, { headers: { authorization: 'Bearer nope' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="tollgate", error="invalid_token"/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const proxied = await fetch(`${running.gw.url}/api/x`, { headers: { authorization: 'Bearer nope' } });
    expect(res.headers.get('www-authenticate')).toBe(proxied.headers.get('www-authenticate'));
  });
});
