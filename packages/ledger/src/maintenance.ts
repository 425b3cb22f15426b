// Housekeeping: forget old committed batch ids, drop events past retention.
import { monthStart, oldestKeptMonth } from './partitions';
import type { SqlClient } from './sql-client';

/** Deletes committed batch ids older than `before`; returns how many. */
export async function pruneFlushBatches(sql: SqlClient, before: Date): Promise<number> {
  const res = await sql.query('DELETE FROM flush_batches WHERE committed_at < $1', [before.toISOString()]);
  return res.rowCount;
}

/** Deletes events older than the ledger's retention window (same cut as the partitions). */
export async function pruneEvents(sql: SqlClient, retentionMonths: number, now: number): Promise<number> {
  const cutoff = new Date(monthStart(oldestKeptMonth(now, retentionMonths))).toISOString();
  const res = await sql.query('DELETE FROM usage_events WHERE occurred_at < $1', [cutoff]);
  return res.rowCount;
}
