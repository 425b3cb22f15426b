// The contract suite, API keys: a key's own limits checked with its tenant's and user's in one atomic step.
/// <reference types="jest" />
import { uniqueId, type ContractKit } from './kit';

/** Registers this group's cases; `kit` hands each case the store and clock of the running test. */
export function apiKeyCases(kit: ContractKit): void {
  const { engine } = kit;

  it('admits a call with an API key only while tenant, user and key all have room, in one atomic step', async () => {
    const e = engine();
    const tenantId = uniqueId('t');
    const k1 = { tenantId, userId: 'alice', plan: 'capped', apiKeyId: uniqueId('key') };
    const k2 = { ...k1, apiKeyId: uniqueId('key') };
    expect((await e.consume(k1, { requests: 1 })).admitted).toBe(true);
    expect((await e.consume(k1, { requests: 1 })).admitted).toBe(true);
    const byKey = await e.consume(k1, { requests: 1 });
    expect(byKey.admitted).toBe(false);
    if (!byKey.admitted)
      expect(byKey.violation).toMatchObject({ scope: 'key', id: k1.apiKeyId, limit: 2, used: 2 });
    // The refusal took nothing from the user or the tenant: alice's second key still gets her last request.
    const status = await e.status(k1);
    expect(status.keyQuotas?.requests?.day).toMatchObject({ limit: 2, used: 2, remaining: 0 });
    expect(status.userQuotas.requests?.day?.used).toBe(2);
    expect(status.quotas.requests?.day?.used).toBe(2);
    expect((await e.consume(k2, { requests: 1 })).admitted).toBe(true);
    const byUser = await e.consume(k2, { requests: 1 });
    expect(byUser.admitted).toBe(false);
    if (!byUser.admitted) expect(byUser.violation).toMatchObject({ scope: 'user', id: 'alice', used: 3 });
    expect((await e.status(k2)).keyQuotas?.requests?.day?.used).toBe(1);
    // Without a key the same user has no key scope at all.
    expect((await e.status({ tenantId, userId: 'alice', plan: 'capped' })).keyQuotas).toBeUndefined();
  });

  it('admits exactly a key limit under 300 concurrent consumes, and reserves tokens against a key budget', async () => {
    const e = engine();
    const tenantId = uniqueId('t');
    const key = uniqueId('key');
    await e.setOverride({ scope: 'key', id: key, tenantId, userId: 'u' }, 'requests', 'day', 37);
    const who = { tenantId, userId: 'u', plan: 'big', apiKeyId: key };
    const results = await Promise.all(Array.from({ length: 300 }, () => e.consume(who, { requests: 1 })));
    expect(results.filter((r) => r.admitted)).toHaveLength(37);
    expect((await e.status(who)).keyQuotas?.requests?.day?.used).toBe(37);
    // The key's token budget (1000) holds a reservation like any other limit, and a rejection names the key.
    const budget = { tenantId, userId: 'u2', plan: 'big', apiKeyId: uniqueId('key') };
    const held = await e.consume(budget, { requests: 1 }, { reserve: { tokens: 800 } });
    expect(held.admitted).toBe(true);
    const over = await e.consume(budget, { requests: 1 }, { reserve: { tokens: 300 } });
    expect(over.admitted).toBe(false);
    if (!over.admitted) expect(over.violation).toMatchObject({ scope: 'key', meter: 'tokens', limit: 1000 });
  });
}
