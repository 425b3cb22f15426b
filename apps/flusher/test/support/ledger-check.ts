// Drains everything still in the store with a clean flusher, then compares the ledger with the load's tally.
import type { CounterStore } from '@tollgate/core';
import { Flusher, type SqlClient } from '@tollgate/ledger';
import { ledgerTables } from '../../../../test-support/ledger/ledger-sums';
import type { Tally } from '../../../../test-support/ledger/tally';

/** A clean flush: every claim is re-issued at once (staleAfterMs 0) and written or skipped, until none is left. */
export async function drain(
  store: CounterStore,
  sql: SqlClient,
): Promise<{ batches: number; skipped: number }> {
  const flusher = new Flusher({ store, sql, staleAfterMs: 0 });
  let batches = 0;
  let skipped = 0;
  for (let i = 0; i < 10; i++) {
    const r = await flusher.flushOnce();
    batches += r.batches;
    skipped += r.skipped;
    if (r.batches + r.skipped === 0) break;
  }
  const left = await store.claim({ now: Date.now(), maxTags: 100_000, staleAfterMs: 0 });
  if (left.length > 0) throw new Error(`${left.length} batches still unflushed after the clean flush`);
  return { batches, skipped };
}

export async function compareWithTally(sql: SqlClient, tally: Tally, like: string) {
  const ledger = await ledgerTables(sql, like);
  const events = await sql.query<{ n: string }>('SELECT count(*)::text AS n FROM usage_events');
  return {
    ledger: { amounts: ledger.amounts, costs: ledger.costs, events: Number(events.rows[0]!.n) },
    expected: { amounts: tally.amountTable(), costs: tally.costTable(), events: tally.events },
  };
}
