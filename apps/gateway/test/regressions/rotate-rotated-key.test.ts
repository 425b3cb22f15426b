// Regression: rotating a key that was already rotated answered 201 again: a second live successor, which inherited
// the old key's grace-period expiry, so the "fresh" key an admin handed out died when the grace ended. Rotating a
// rotated key is a 409 naming its successor (rotate that one).
import { MemoryStore } from '@tollgate/core';
import { createTestDatabase } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { startGateway, token, type RunningGateway } from '../support/kit';

describe('rotating a key twice', () => {
  let upstream: LlmUpstream;
  let db: { url: string; drop: () => Promise<void> };
  let gw: RunningGateway;
  const admin = {
    authorization: `Bearer ${token({ sub: 'root', role: 'admin' })}`,
    'content-type': 'application/json',
  };

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('reg_rotate_twice');
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

  const post = (path: string, body: unknown) =>
    fetch(`${gw.url}${path}`, { method: 'POST', headers: admin, body: JSON.stringify(body) });

  it('answers 409 naming the successor, which keeps no expiry', async () => {
    const old = (await (await post('/admin/keys', { name: 'ci', userId: 'erin' })).json()) as { id: string };
    const first = await post(`/admin/keys/${old.id}/rotate`, { graceSeconds: 3600 });
    expect(first.status).toBe(201);
    const successor = (await first.json()) as { id: string; expiresAt: string | null };
    expect(successor.expiresAt).toBeNull();

    const second = await post(`/admin/keys/${old.id}/rotate`, { graceSeconds: 3600 });
    expect(second.status).toBe(409);
    expect(((await second.json()) as { detail: string }).detail).toBe(
      `API key ${old.id} was rotated into ${successor.id}`,
    );
    const listed = (await (
      await fetch(`${gw.url}/admin/keys?userId=erin`, { headers: admin })
    ).json()) as unknown[];
    expect(listed).toHaveLength(2);
  });
});
