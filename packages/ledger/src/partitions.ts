// Monthly partitions of usage_ledger: created on demand for any month a row needs, dropped by retention.
import { SCHEMA_LOCK_KEY } from './migrate';
import type { SqlClient, SqlExecutor } from './sql-client';

const NAME = /^usage_ledger_p(\d{4})(\d{2})$/;

/** A UTC calendar month. */
export interface Month {
  year: number;
  /** 1-12. */
  month: number;
}

export function monthOf(instant: number): Month {
  const d = new Date(instant);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1 };
}

export function monthStart(m: Month): number {
  return Date.UTC(m.year, m.month - 1, 1);
}

export function addMonths(m: Month, n: number): Month {
  const d = new Date(Date.UTC(m.year, m.month - 1 + n, 1));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1 };
}

export function partitionName(m: Month): string {
  return `usage_ledger_p${m.year}${String(m.month).padStart(2, '0')}`;
}

export function parsePartitionName(name: string): Month | null {
  const match = NAME.exec(name);
  if (!match) return null;
  return { year: Number(match[1]), month: Number(match[2]) };
}

/**
 * The first month retention keeps: partitions whose whole range ends at or before the start of
 * `retentionMonths` months before the current one are dropped, so at least that many full months stay.
 */
export function oldestKeptMonth(now: number, retentionMonths: number): Month {
  return addMonths(monthOf(now), -retentionMonths);
}

async function createPartition(tx: SqlExecutor, m: Month): Promise<void> {
  const from = new Date(monthStart(m)).toISOString();
  const to = new Date(monthStart(addMonths(m, 1))).toISOString();
  // Identifiers and bounds come from integers we formatted, never from input.
  await tx.exec(
    `CREATE TABLE IF NOT EXISTS ${partitionName(m)} PARTITION OF usage_ledger FOR VALUES FROM ('${from}') TO ('${to}')`,
  );
}

/** Remembers which partitions exist so a flush only takes the schema lock for a month it has not seen. */
export class PartitionManager {
  private readonly known = new Set<string>();

  constructor(private readonly sql: SqlClient) {}

  /** Creates the partitions for these hour buckets (epoch ms) that do not exist yet. Idempotent and race-safe. */
  async ensureFor(bucketStarts: Iterable<number>): Promise<void> {
    const missing = new Map<string, Month>();
    for (const b of bucketStarts) {
      const m = monthOf(b);
      const name = partitionName(m);
      if (!this.known.has(name)) missing.set(name, m);
    }
    if (missing.size === 0) return;
    await this.sql.transaction(async (tx) => {
      // CREATE ... IF NOT EXISTS is not safe against a concurrent create of the same name; the lock is.
      await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [SCHEMA_LOCK_KEY]);
      for (const m of missing.values()) await createPartition(tx, m);
    });
    for (const name of missing.keys()) this.known.add(name);
  }

  /** Forgets what it knows (after a retention run, or an insert that found no partition). */
  forget(): void {
    this.known.clear();
  }

  /** Existing ledger partitions, oldest first. */
  async list(): Promise<string[]> {
    const res = await this.sql.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'usage_ledger'::regclass ORDER BY c.relname`,
    );
    return res.rows.map((r) => r.name);
  }

  /** Drops every partition older than the retention window (see `oldestKeptMonth`); returns their names. */
  async dropExpired(retentionMonths: number, now: number): Promise<string[]> {
    if (!Number.isSafeInteger(retentionMonths) || retentionMonths < 1) {
      throw new RangeError('retentionMonths must be an integer >= 1');
    }
    const cutoff = monthStart(oldestKeptMonth(now, retentionMonths));
    const dropped = await this.sql.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [SCHEMA_LOCK_KEY]);
      const res = await tx.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'usage_ledger'::regclass`,
      );
      const out: string[] = [];
      for (const { name } of res.rows) {
        const m = parsePartitionName(name);
        if (!m || monthStart(m) >= cutoff) continue;
        await tx.exec(`DROP TABLE IF EXISTS ${name}`);
        out.push(name);
      }
      return out.sort();
    });
    this.forget();
    return dropped;
  }
}
