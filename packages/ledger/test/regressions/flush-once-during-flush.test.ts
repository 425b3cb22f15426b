// Regression (a flaky dashboard test showed it): flushOnce() called while a flush was running (the timer's) shared
// that run, which had claimed before the caller's usage arrived: the call resolved with the usage still unflushed
// (the dashboard test's third request was missing from the ledger). Now such a call waits for the run and runs again.
import { MemoryStore, QuotaEngine, parseConfig } from '@tollgate/core';
import { Flusher } from '../../src';
import { ownDatabase } from '../support/own-database';

const config = parseConfig({ defaultPlan: 'p', plans: { p: { limits: {} } } });

const database = ownDatabase('flush_once_during_flush', 4);
const sql = () => database.sql();

async function ledgerRequests(tenantId: string): Promise<number> {
  const res = await sql().query<{ n: string }>(
    "SELECT coalesce(sum(amount), 0)::text AS n FROM usage_ledger WHERE tenant_id = $1 AND meter = 'requests'",
    [tenantId],
  );
  return Number(res.rows[0]!.n);
}

it('flushes usage recorded while another flush was writing, when flushOnce resolves', async () => {
  const store = new MemoryStore();
  const engine = new QuotaEngine({ store, config });
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let held = false;
  const flusher = new Flusher({
    store,
    sql: sql(),
    intervalMs: 60_000,
    staleAfterMs: 60_000,
    hooks: {
      // The first flush stops before its commit until released: a flush in progress.
      beforeCommit: async () => {
        if (held) return;
        held = true;
        await gate;
      },
    },
  });
  await engine.record({ tenantId: 'acme' }, [{ meter: 'requests', amount: 2 }]);
  const first = flusher.flushOnce();
  while (!held) await new Promise((r) => setTimeout(r, 5));
  // Usage arriving after that flush claimed, then a flush asked for it.
  await engine.record({ tenantId: 'acme' }, [{ meter: 'requests', amount: 1 }]);
  const second = flusher.flushOnce();
  const third = flusher.flushOnce();
  expect(third).toBe(second);
  release();
  await first;
  await second;
  expect(await ledgerRequests('acme')).toBe(3);
  await flusher.close();
});
