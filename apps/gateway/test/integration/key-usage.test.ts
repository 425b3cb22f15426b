// Usage per API key (SPEC §11): the ledger's key_id (null for JWT calls), and the keyId filter of stats, timeseries,
// events and export, which a non-admin may use only for its own keys (403), however the parameter is spelled.
import { MemoryStore } from '@tollgate/core';
import { createTestDatabase } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { startGateway, token, type RunningGateway } from '../support/kit';

const CONFIG = {
  defaultPlan: 'free',
  plans: { free: { limits: { requests: { day: 10_000 } } } },
  keyLimits: { free: { requests: { day: 4 } } },
};

describe('usage per API key', () => {
  let upstream: LlmUpstream;
  let db: { url: string; drop: () => Promise<void> };
  let gw: RunningGateway;
  const alice = token({ sub: 'alice', tenant_id: 'acme', tier: 'free' });
  const bob = token({ sub: 'bob', tenant_id: 'acme', tier: 'free' });
  const admin = token({ sub: 'root', role: 'admin' });
  let k1: { id: string; key: string };
  let k2: { id: string; key: string };
  let bobKey: { id: string; key: string };

  const get = (path: string, jwt: string) =>
    fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${jwt}` } });
  const create = async (jwt: string, name: string) => {
    const res = await fetch(`${gw.url}/usage/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string; key: string };
  };
  const hello = (headers: Record<string, string>) =>
    fetch(`${gw.url}/api/hello`, { headers }).then((r) => r.status);

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_key_usage');
    gw = await startGateway(
      { UPSTREAM_URL: upstream.url, DATABASE_URL: db.url, FLUSHER: 'inline', FLUSH_INTERVAL_MS: '600000' },
      { store: new MemoryStore(), config: CONFIG },
    );
    k1 = await create(alice, 'one');
    k2 = await create(alice, 'two');
    bobKey = await create(bob, 'bobs');
    for (let i = 0; i < 3; i++) expect(await hello({ 'x-api-key': k1.key })).toBe(200);
    // The fifth call with k2 is over its key limit (4): refused and counted as rejected, under the key.
    const k2s = [];
    for (let i = 0; i < 5; i++) k2s.push(await hello({ authorization: `Bearer ${k2.key}` }));
    expect(k2s).toEqual([200, 200, 200, 200, 429]);
    for (let i = 0; i < 2; i++) expect(await hello({ authorization: `Bearer ${alice}` })).toBe(200);
    expect(await hello({ 'x-api-key': bobKey.key })).toBe(200);
    await gw.gateway.idle();
    await gw.gateway.flusher!.flushOnce();
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  it('writes the key of each call into the ledger, null for JWT calls', async () => {
    const res = await gw.gateway.sql.query<{ key_id: string | null; meter: string; amount: string }>(
      `SELECT key_id, meter, sum(amount)::text AS amount FROM usage_ledger
        WHERE user_id = 'alice' AND meter IN ('requests', 'rejected') GROUP BY key_id, meter ORDER BY 1, 2`,
    );
    const rows = Object.fromEntries(
      res.rows.map((r) => [`${r.key_id ?? 'jwt'}:${r.meter}`, Number(r.amount)]),
    );
    expect(rows).toEqual({
      [`${k1.id}:requests`]: 3,
      [`${k2.id}:requests`]: 4,
      [`${k2.id}:rejected`]: 1,
      'jwt:requests': 2,
    });
  });

  it('filters stats, timeseries, events and export by keyId for the key owner and an admin', async () => {
    const stats = async (q: string, jwt: string) => {
      const res = await get(`/usage/stats?${q}`, jwt);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { meters: Array<{ meter: string; amount: number }> };
      return body.meters.find((m) => m.meter === 'requests')?.amount ?? 0;
    };
    expect(await stats(`keyId=${k1.id}`, alice)).toBe(3);
    expect(await stats(`keyId=${k2.id}`, alice)).toBe(4);
    expect(await stats('', alice)).toBe(9);
    expect(await stats(`keyId=${k1.id}`, admin)).toBe(3);
    expect(await stats(`keyId=${k1.id}&scope=tenant`, alice)).toBe(3);
    // Authenticated by the key itself, the owner still reads its own key's usage.
    const viaKey = await fetch(`${gw.url}/usage/stats?keyId=${k2.id}`, { headers: { 'x-api-key': k1.key } });
    expect(viaKey.status).toBe(200);

    const series = (await (
      await get(`/usage/timeseries/requests?days=1&keyId=${k2.id}`, alice)
    ).json()) as Array<{
      amount: number;
    }>;
    expect(series.map((p) => p.amount)).toEqual([4]);

    const csv = await (await get(`/usage/export.csv?keyId=${k1.id}`, alice)).text();
    const lines = csv.trim().split('\r\n');
    const header = lines[0]!.split(',');
    const meterAt = header.indexOf('meter');
    const amountAt = header.indexOf('amount');
    const requests = lines
      .slice(1)
      .map((l) => l.split(','))
      .filter((c) => c[meterAt] === 'requests')
      .reduce((a, c) => a + Number(c[amountAt]), 0);
    expect(requests).toBe(3);

    const events = (await (await get(`/usage/events?keyId=${k2.id}`, alice)).json()) as Array<{
      type: string;
      details: { scope: string; id: string };
    }>;
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.details.scope === 'key' && e.details.id === k2.id)).toBe(true);
    expect(events.map((e) => e.type)).toContain('quota_exceeded');
  });

  it("refuses another user's key, a key that does not exist, and every other spelling of the parameter", async () => {
    const paths = ['/usage/stats', '/usage/timeseries/requests', '/usage/events', '/usage/export.csv'];
    for (const path of paths) {
      for (const [q, jwt] of [
        [`keyId=${k1.id}`, bob],
        [`keyId=${bobKey.id}`, alice],
        ['keyId=key_doesnotexist', alice],
        [`keyId=${k1.id}&userId=alice`, bob],
        [`keyId=${k1.id}&tenantId=acme`, bob],
      ] as const) {
        const res = await get(`${path}?${q}`, jwt);
        expect([path, q, res.status]).toEqual([path, q, 403]);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      }
      // Other spellings are no parameter at all: 400, never someone else's rows.
      for (const q of [
        `keyid=${k1.id}`,
        `KEYID=${k1.id}`,
        `key_id=${k1.id}`,
        `keyId[]=${k1.id}`,
        `keyId=${bobKey.id}&keyId=${k1.id}`,
        `keyId=`,
      ]) {
        const res = await get(`${path}?${q}`, bob);
        expect([path, q, res.status]).toEqual([path, q, 400]);
      }
    }
    // The same refusal for bob authenticated with his own key.
    const viaKey = await fetch(`${gw.url}/usage/stats?keyId=${k1.id}`, {
      headers: { 'x-api-key': bobKey.key },
    });
    expect(viaKey.status).toBe(403);
  });
});
