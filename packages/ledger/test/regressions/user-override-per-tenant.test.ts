// Regression: quota_overrides was keyed by (scope, id, meter, period), so a user's override set in one tenant
// replaced the same user's override in another (alice capped at 2 in acme, then 5 in globex: acme's durable copy
// was gone), and rebuilding a tenant's lost counters restored whichever was left into every tenant alice uses.
import { MemoryStore, QuotaEngine, parseConfig } from '@tollgate/core';
import { LedgerBaseline, listOverrides, saveOverride } from '../../src';
import { ownDatabase } from '../support/own-database';

const config = parseConfig({ plans: { free: { limits: { requests: { day: 100 } } } } });

const database = ownDatabase('override_tenant', 2);
const sql = () => database.sql();

beforeAll(async () => {
  const user = { scope: 'user' as const, id: 'alice', meter: 'requests', period: 'day' as const };
  await saveOverride(sql(), { ...user, tenantId: 'acme', limit: 2 });
  await saveOverride(sql(), { ...user, tenantId: 'globex', limit: 5 });
  await saveOverride(sql(), { ...user, tenantId: null, limit: 7 });
});

async function admittedOf(engine: QuotaEngine, who: object, n: number): Promise<number> {
  let admitted = 0;
  for (let i = 0; i < n; i++) if ((await engine.consume(who, { requests: 1 })).admitted) admitted++;
  return admitted;
}

it('keeps one durable override per tenant the user was capped in', async () => {
  const rows = await listOverrides(sql(), [{ scope: 'user', id: 'alice' }]);
  expect(rows.map((r) => [r.tenantId, r.limit])).toEqual([
    [null, 7],
    ['acme', 2],
    ['globex', 5],
  ]);
  expect(
    (await listOverrides(sql(), [{ scope: 'user', id: 'alice' }], { tenantId: 'acme' })).map((r) => r.limit),
  ).toEqual([2]);
  expect(
    (await listOverrides(sql(), [{ scope: 'user', id: 'alice' }], { tenantId: null })).map((r) => r.limit),
  ).toEqual([7]);
});

it('a rebuild from the ledger restores each tenant its own cap of the user', async () => {
  // A fresh store: every shard is rebuilt from the ledger on first use.
  const store = new MemoryStore();
  const engine = new QuotaEngine({ store, config, baseline: new LedgerBaseline(sql()) });
  try {
    expect(await admittedOf(engine, { tenantId: 'acme', userId: 'alice' }, 4)).toBe(2);
    expect(await admittedOf(engine, { tenantId: 'globex', userId: 'alice' }, 7)).toBe(5);
    expect(await admittedOf(engine, { userId: 'alice' }, 9)).toBe(7);
    expect(await admittedOf(engine, { tenantId: 'initech', userId: 'alice' }, 3)).toBe(3);
  } finally {
    await store.close();
  }
});

it('removing the override of one tenant leaves the others', async () => {
  await saveOverride(sql(), {
    scope: 'user',
    id: 'alice',
    tenantId: 'acme',
    meter: 'requests',
    period: 'day',
    limit: null,
  });
  const rows = await listOverrides(sql(), [{ scope: 'user', id: 'alice' }]);
  expect(rows.map((r) => [r.tenantId, r.limit])).toEqual([
    [null, 7],
    ['globex', 5],
  ]);
});
