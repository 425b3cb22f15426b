// Regression: one key of a JWKS with a malformed member (`"key_ops": null`, a number) threw while the set was read,
// so the whole set was refused and no token of that provider verified (401 for all, or the stale set kept). Such a
// key is skipped; the others still verify.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import { JwksKeySet } from '../../src/jwks';

describe('a JWKS with one malformed key', () => {
  let server: http.Server;
  let url: URL;

  beforeAll(async () => {
    const good = await exportJWK((await generateKeyPair('ES256')).publicKey);
    const other = await exportJWK((await generateKeyPair('ES256')).publicKey);
    const keys = [
      { ...other, kid: 'null-ops', key_ops: null },
      { ...other, kid: 'number-ops', key_ops: 7 },
      { ...good, kid: 'good', alg: 'ES256', use: 'sig' },
    ];
    server = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`);
  });

  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('keeps the well-formed keys and skips the malformed ones', async () => {
    const errors: string[] = [];
    const set = new JwksKeySet({ urls: [url], onError: (_u, m) => errors.push(m) });
    await set.ready();
    set.close();
    expect(errors).toEqual([]);
    expect(set.find('good', 'ES256')?.kid).toBe('good');
    expect(set.find('null-ops', 'ES256')).toBeNull();
    expect(set.find('number-ops', 'ES256')).toBeNull();
  });
});
