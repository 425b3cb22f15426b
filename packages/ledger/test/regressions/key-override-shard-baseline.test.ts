// Regression: LedgerBaseline.shardBaseline (a rebuild's overrides and sums in one statement) kept only tenant
// overrides and the shard tenant's user overrides, so an API key's override (owner_tenant '', like listOverrides
// restores it) was dropped: once the store lost the shard, or on a key's first request after its cap was set, the key
// ran on its plan's limits, or on none.
import { MemoryStore, QuotaEngine, parseConfig } from '@tollgate/core';
import { LedgerBaseline, saveOverride } from '../../src';
import { ownDatabase } from '../support/own-database';

const config = parseConfig({ plans: { free: { limits: { requests: { day: 100 } } } } });

const database = ownDatabase('key_override_baseline', 2);
const sql = () => database.sql();

beforeAll(async () => {
  await saveOverride(sql(), { scope: 'key', id: 'key-1', meter: 'requests', period: 'day', limit: 2 });
});

it("answers a key's override in a tenant shard's baseline, as the overrides query does", async () => {
  const baseline = new LedgerBaseline(sql());
  const scopes = [
    { scope: 'tenant' as const, id: 'acme' },
    { scope: 'key' as const, id: 'key-1' },
  ];
  const { overrides } = await baseline.shardBaseline(scopes, { tenantId: 'acme' }, []);
  expect(overrides).toEqual(await baseline.overrides(scopes, { tenantId: 'acme' }));
  expect(overrides).toEqual([{ scope: 'key', id: 'key-1', meter: 'requests', period: 'day', limit: 2 }]);
});

it("a rebuild from the ledger restores the key's cap", async () => {
  const store = new MemoryStore();
  const engine = new QuotaEngine({ store, config, baseline: new LedgerBaseline(sql()) });
  try {
    let admitted = 0;
    for (let i = 0; i < 4; i++) {
      const r = await engine.consume({ tenantId: 'acme', apiKeyId: 'key-1' }, { requests: 1 });
      if (r.admitted) admitted++;
    }
    expect(admitted).toBe(2);
  } finally {
    await store.close();
  }
});
