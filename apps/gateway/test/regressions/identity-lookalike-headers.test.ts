// Regression: `X_User_Id`, `X-Tenant_Id` and other identity look-alikes reached the upstream, where servers that fold
// `_` into `-` (CGI, WSGI, Rack) read them as the identity headers: a spoofed identity beside the gateway's.
import { MemoryStore } from '@tollgate/core';
import { createTestDatabase } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { startGateway, token, type RunningGateway } from '../support/kit';
import { foldedNames, rawRequest } from '../support/raw-lines';

describe('identity look-alike headers', () => {
  let upstream: LlmUpstream;
  let db: { url: string; drop: () => Promise<void> };
  let gw: RunningGateway;

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('reg_lookalikes');
    gw = await startGateway(
      { UPSTREAM_URL: upstream.url, DATABASE_URL: db.url, FLUSHER: 'off' },
      { store: new MemoryStore() },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  it('never reach the upstream, whatever their case', async () => {
    const { host } = new URL(gw.url);
    const reply = await rawRequest(gw.url, [
      'GET /api/whoami HTTP/1.1',
      `Host: ${host}`,
      `Authorization: Bearer ${token({ sub: 'alice' })}`,
      'X_User_Id: mallory',
      'X-Tenant_Id: other-corp',
      'x_user_tier: enterprise',
      'X_User_Role: admin',
    ]);
    expect(reply.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    const seen = upstream.last();
    const identity = foldedNames(seen.rawHeaders).filter(
      (n) => n.startsWith('x-user-') || n.startsWith('x-tenant-'),
    );
    expect(identity).toEqual(['x-user-id']);
    expect(seen.headers['x-user-id']).toBe('alice');
  });
});
