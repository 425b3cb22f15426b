// Regression: the client's own X-Forwarded-For/-Host/-Proto, Forwarded and X-Real-IP reached the upstream as sent
// (http-proxy's xfwd appended to them), so any client could claim any address, host or scheme.
import { memoryGatewayPerFile } from '../support/memory-gateway';
import { token } from '../support/kit';
import { rawRequest } from '../support/raw-lines';

describe("a client's forwarding headers", () => {
  const served = memoryGatewayPerFile('reg_forwarding');

  it('are replaced by what the gateway saw when the client is no trusted proxy', async () => {
    const { host } = new URL(served.gw.url);
    const reply = await rawRequest(served.gw.url, [
      'GET /api/whoami HTTP/1.1',
      `Host: ${host}`,
      `Authorization: Bearer ${token({ sub: 'alice' })}`,
      'X-Forwarded-For: 6.6.6.6',
      'X-Forwarded-Host: admin.internal',
      'X-Forwarded-Proto: https',
      'Forwarded: for=6.6.6.6',
      'X-Real-IP: 6.6.6.6',
    ]);
    expect(reply.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    const h = served.upstream.last().headers;
    expect([h['x-forwarded-for'], h['x-forwarded-host'], h['x-forwarded-proto']]).toEqual([
      '127.0.0.1',
      host,
      'http',
    ]);
    expect([h.forwarded, h['x-real-ip']]).toEqual([undefined, undefined]);
  });
});
