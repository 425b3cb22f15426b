// Regression: `X_User_Id`, `X-Tenant_Id` and other identity look-alikes reached the upstream, where servers that fold
// `_` into `-` (CGI, WSGI, Rack) read them as the identity headers: a spoofed identity beside the gateway's.
import { memoryGatewayPerFile } from '../support/memory-gateway';
import { token } from '../support/kit';
import { foldedNames, rawRequest } from '../support/raw-lines';

describe('identity look-alike headers', () => {
  const served = memoryGatewayPerFile('reg_lookalikes');

  it('never reach the upstream, whatever their case', async () => {
    const { host } = new URL(served.gw.url);
    const reply = await rawRequest(served.gw.url, [
      'GET /api/whoami HTTP/1.1',
      `Host: ${host}`,
      `Authorization: Bearer ${token({ sub: 'alice' })}`,
      'X_User_Id: mallory',
      'X-Tenant_Id: other-corp',
      'x_user_tier: enterprise',
      'X_User_Role: admin',
    ]);
    expect(reply.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    const seen = served.upstream.last();
    const identity = foldedNames(seen.rawHeaders).filter(
      (n) => n.startsWith('x-user-') || n.startsWith('x-tenant-'),
    );
    expect(identity).toEqual(['x-user-id']);
    expect(seen.headers['x-user-id']).toBe('alice');
  });
});
