// The contract suite, overrides (`setOverride`): effective at once on any period, removable, for a tenant and
// for an API key.
/// <reference types="jest" />
import { uniqueId, type ContractKit } from './kit';

/** Registers this group's cases; `kit` hands each case the store and clock of the running test. */
export function overrideCases(kit: ContractKit): void {
  const { engine } = kit;

  it('applies overrides at once, on any period, and removes them', async () => {
    const e = engine();
    const tenantId = uniqueId('t');
    const who = { tenantId, plan: 'free' };
    await e.setOverride({ scope: 'tenant', id: tenantId }, 'requests', 'day', 2);
    expect((await e.consume(who, { requests: 1 })).admitted).toBe(true);
    expect((await e.consume(who, { requests: 1 })).admitted).toBe(true);
    expect((await e.consume(who, { requests: 1 })).admitted).toBe(false);
    await e.setOverride({ scope: 'tenant', id: tenantId }, 'requests', 'day', -1);
    expect((await e.consume(who, { requests: 1 })).admitted).toBe(true);
    // A period the plan does not limit counts from when its override is set.
    await e.setOverride({ scope: 'tenant', id: tenantId }, 'requests', 'hour', 1);
    expect((await e.consume(who, { requests: 1 })).admitted).toBe(true);
    const r = await e.consume(who, { requests: 1 });
    expect(r.admitted).toBe(false);
    if (!r.admitted) expect(r.violation).toMatchObject({ period: 'hour', limit: 1, used: 1 });
    await e.setOverride({ scope: 'tenant', id: tenantId }, 'requests', 'hour', null);
    await e.setOverride({ scope: 'tenant', id: tenantId }, 'requests', 'day', null);
    expect((await e.consume(who, { requests: 1 })).admitted).toBe(true); // day: 5 of the plan's 5
    const back = await e.consume(who, { requests: 1 });
    expect(back.admitted).toBe(false);
    if (!back.admitted) expect(back.violation).toMatchObject({ period: 'day', limit: 5 });
  });

  it('applies and removes a key override at once, beside the plan keyLimits', async () => {
    const e = engine();
    const tenantId = uniqueId('t');
    const key = uniqueId('key');
    const who = { tenantId, userId: 'alice', plan: 'capped', apiKeyId: key };
    await e.setOverride({ scope: 'key', id: key, tenantId, userId: 'alice' }, 'requests', 'day', 1);
    expect((await e.consume(who, { requests: 1 })).admitted).toBe(true);
    const r = await e.consume(who, { requests: 1 });
    expect(r.admitted).toBe(false);
    if (!r.admitted) expect(r.violation).toMatchObject({ scope: 'key', limit: 1 });
    await e.setOverride({ scope: 'key', id: key, tenantId, userId: 'alice' }, 'requests', 'day', null);
    expect((await e.consume(who, { requests: 1 })).admitted).toBe(true);
    const back = await e.consume(who, { requests: 1 });
    expect(back.admitted).toBe(false);
    // Back to the plan's keyLimits (2), both used.
    if (!back.admitted) expect(back.violation).toMatchObject({ scope: 'key', limit: 2, used: 2 });
  });
}
