// Regression: tokens without `exp` were accepted forever, and a `crit` header naming extensions the gateway does
// not understand was ignored (RFC 7515 §4.1.11 says such a token must be refused).
import jwt from 'jsonwebtoken';
import { MemoryStore } from '@tollgate/core';
import { createTestDatabase } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { SECRET, startGateway, type RunningGateway } from '../support/kit';

describe('token lifetime and critical header extensions', () => {
  let upstream: LlmUpstream;
  let db: { url: string; drop: () => Promise<void> };
  let gw: RunningGateway;

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('reg_exp_crit');
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

  const status = async (t: string) =>
    (await fetch(`${gw.url}/api/whoami`, { headers: { authorization: `Bearer ${t}` } })).status;

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
