// Regression: a JWKS URL that answered with a redirect was followed anywhere (https to http, another host), so
// whoever controlled the redirect target chose the keys tokens were verified with. Redirects are now refused.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import { JwksKeySet } from '../../src/jwks';

describe('a JWKS URL answering a redirect', () => {
  let elsewhere: http.Server;
  let redirecting: http.Server;
  let url: URL;
  let elsewhereHits = 0;

  beforeAll(async () => {
    const { publicKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'attacker', alg: 'RS256', use: 'sig' };
    elsewhere = http.createServer((_req, res) => {
      elsewhereHits++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => elsewhere.listen(0, '127.0.0.1', () => r()));
    const target = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/keys`;
    redirecting = http.createServer((_req, res) => {
      res.writeHead(302, { location: target });
      res.end();
    });
    await new Promise<void>((r) => redirecting.listen(0, '127.0.0.1', () => r()));
    url = new URL(`http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/.well-known/jwks.json`);
  });

  afterAll(async () => {
    await new Promise<void>((r) => elsewhere.close(() => r()));
    await new Promise<void>((r) => redirecting.close(() => r()));
  });

  it('is not followed: the set is refused and the redirect target never asked', async () => {
    const errors: string[] = [];
    const set = new JwksKeySet({ urls: [url], onError: (_u, m) => errors.push(m) });
    await set.ready();
    const found = set.find('attacker', 'RS256');
    set.close();
    expect(found).toBeNull();
    expect(errors).toEqual(['HTTP 302: redirects are not followed']);
    expect(elsewhereHits).toBe(0);
  });
});
