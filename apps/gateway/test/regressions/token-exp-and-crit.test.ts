// Regression: tokens without `exp` were accepted forever, and a `crit` header naming extensions the gateway does
// not understand was ignored (RFC 7515 §4.1.11 says such a token must be refused).
import jwt from 'jsonwebtoken';
import { memoryGatewayPerFile } from '../support/memory-gateway';
import { SECRET } from '../support/kit';

describe('token lifetime and critical header extensions', () => {
  const served = memoryGatewayPerFile('reg_exp_crit');

  const status = async (t: string) =>
    (await fetch(`${served.gw.url}/api/whoami`, { headers: { authorization: `Bearer ${t}` } })).status;

  it('refuses a token without exp', async () => {
    expect(await status(jwt.sign({ sub: 'forever' }, SECRET, { algorithm: 'HS256' }))).toBe(401);
  });

  it('refuses a token whose header lists critical extensions', async () => {
    const t = jwt.sign({ sub: 'a' }, SECRET, {
      algorithm: 'HS256',
      expiresIn: '1h',
      header: { alg: 'HS256', crit: ['http://example.com/must-understand'] } as jwt.JwtHeader,
    });
    expect(await status(t)).toBe(401);
  });
});
