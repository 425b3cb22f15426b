// Writes claimed batches into the ledger exactly once: new batch ids and their rows commit together.
import type { ClaimedBatch } from '@tollgate/core';
import { picoToNumeric } from '@tollgate/core/internal';
import type { PartitionManager } from './partitions';
import type { SqlClient, SqlExecutor } from './sql-client';

/** Called at the edges of the commit; the crash tests use them to stop a flusher in exactly those windows. */
export interface WriteHooks {
  /** Inside the transaction, after every insert, right before COMMIT. */
  beforeCommit?: (batches: readonly ClaimedBatch[]) => Promise<void> | void;
  /** After COMMIT, before the batches are acknowledged in the counter store. */
  afterCommit?: (batches: readonly ClaimedBatch[]) => Promise<void> | void;
}

export interface WriteResult {
  /** Batches written now. */
  written: ClaimedBatch[];
  /** Batches whose id was already committed (a crash between commit and ack, or a concurrent flusher). */
  skipped: ClaimedBatch[];
  /** Ledger rows inserted. */
  rows: number;
  /** Events inserted. */
  events: number;
}

export interface WriteOptions {
  partitions: PartitionManager;
  hooks?: WriteHooks;
  /**
   * How ledger rows are loaded: `copy` (COPY ... FROM STDIN, CSV; the fastest) or `insert` (multi-row
   * `INSERT ... SELECT FROM unnest($1::text[], ...)`). Both run inside the flush transaction. Defaults to `copy`.
   */
  method?: 'copy' | 'insert';
  /** Rows per INSERT statement with `method: 'insert'` (split, still one transaction). Defaults to 20 000. */
  chunkRows?: number;
}

const LEDGER_TARGET =
  'usage_ledger (tenant_id, user_id, meter, model, amount, cost_usd, estimated, bucket_start, batch_id, batch_row, key_id)';
/** Rows per CSV chunk handed to COPY. */
const CSV_CHUNK_ROWS = 5000;

/** One CSV field: null is an unquoted empty field, text is quoted when it must be (and when empty). */
function csvValue(v: string | null): string {
  if (v === null) return '';
  if (v === '' || /[",\r\n\\]/.test(v)) return `"${v.replace(/"/g, '""')}"`;
  return v;
}

/** The rows of these batches as CSV chunks for COPY; deltas that net to nothing are left out. */
function ledgerCsv(batches: readonly ClaimedBatch[]): { chunks: string[]; rows: number } {
  const chunks: string[] = [];
  const isoOf = new Map<number, string>();
  let lines: string[] = [];
  let rows = 0;
  for (const b of batches) {
    const batchId = csvValue(b.batchId);
    let row = 0;
    for (const d of b.usage) {
      row += 1;
      const cost = d.costPico || '0';
      if (d.amount === 0 && cost === '0') continue;
      if (!Number.isSafeInteger(d.amount)) throw new RangeError(`amount must be an integer, got ${d.amount}`);
      let iso = isoOf.get(d.bucketStart);
      if (iso === undefined) {
        iso = new Date(d.bucketStart).toISOString();
        isoOf.set(d.bucketStart, iso);
      }
      lines.push(
        `${csvValue(d.tenantId)},${csvValue(d.userId)},${csvValue(d.meter)},${csvValue(d.model)},${d.amount},${picoToNumeric(cost)},${d.estimated === true ? 't' : 'f'},${iso},${batchId},${row},${csvValue(d.keyId ?? null)}\n`,
      );
      rows += 1;
      if (lines.length >= CSV_CHUNK_ROWS) {
        chunks.push(lines.join(''));
        lines = [];
      }
    }
  }
  if (lines.length > 0) chunks.push(lines.join(''));
  return { chunks, rows };
}

async function copyLedger(tx: SqlExecutor, batches: readonly ClaimedBatch[]): Promise<number> {
  const { chunks, rows } = ledgerCsv(batches);
  if (rows === 0) return 0;
  await tx.copyFrom(LEDGER_TARGET, chunks);
  return rows;
}

const NO_PARTITION = '23514';

/** One row of every column array, built in a single pass. */
interface LedgerColumns {
  tenant: Array<string | null>;
  user: Array<string | null>;
  meter: string[];
  model: Array<string | null>;
  amount: string[];
  cost: string[];
  estimated: boolean[];
  bucket: string[];
  batch: string[];
  row: number[];
  key: Array<string | null>;
}

function emptyColumns(): LedgerColumns {
  return {
    tenant: [],
    user: [],
    meter: [],
    model: [],
    amount: [],
    cost: [],
    estimated: [],
    bucket: [],
    batch: [],
    row: [],
    key: [],
  };
}

// cost_usd arrives as exact decimal text (see picoToNumeric), the same as COPY loads.
const INSERT_LEDGER = `
INSERT INTO usage_ledger
  (tenant_id, user_id, meter, model, amount, cost_usd, estimated, bucket_start, batch_id, batch_row, key_id)
SELECT t, u, m, mo, a, c, e, b, bi, r, k
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::numeric[], $7::boolean[],
            $8::timestamptz[], $9::text[], $10::int[], $11::text[]) AS x(t, u, m, mo, a, c, e, b, bi, r, k)`;

const INSERT_EVENTS = `
INSERT INTO usage_events (type, tenant_id, user_id, meter, period, details, occurred_at, batch_id)
SELECT ty, t, u, m, p, d::jsonb, o, bi
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::text[])
  AS x(ty, t, u, m, p, d, o, bi)`;

async function insertLedger(
  tx: SqlExecutor,
  batches: readonly ClaimedBatch[],
  chunk: number,
): Promise<number> {
  let cols = emptyColumns();
  let total = 0;
  const flush = async () => {
    if (cols.meter.length === 0) return;
    await tx.query(INSERT_LEDGER, [
      cols.tenant,
      cols.user,
      cols.meter,
      cols.model,
      cols.amount,
      cols.cost,
      cols.estimated,
      cols.bucket,
      cols.batch,
      cols.row,
      cols.key,
    ]);
    total += cols.meter.length;
    cols = emptyColumns();
  };
  for (const b of batches) {
    let row = 0;
    for (const d of b.usage) {
      row += 1;
      // A delta that netted out (a gauge up then down) changes no sum: no row.
      if (d.amount === 0 && (d.costPico === '0' || d.costPico === '')) continue;
      cols.tenant.push(d.tenantId);
      cols.user.push(d.userId);
      cols.meter.push(d.meter);
      cols.model.push(d.model);
      cols.amount.push(String(d.amount));
      cols.cost.push(picoToNumeric(d.costPico || '0'));
      cols.estimated.push(d.estimated === true);
      cols.bucket.push(new Date(d.bucketStart).toISOString());
      cols.batch.push(b.batchId);
      cols.row.push(row);
      cols.key.push(d.keyId ?? null);
      if (cols.meter.length >= chunk) await flush();
    }
  }
  await flush();
  return total;
}

async function insertEvents(tx: SqlExecutor, batches: readonly ClaimedBatch[]): Promise<number> {
  const type: string[] = [];
  const tenant: Array<string | null> = [];
  const user: Array<string | null> = [];
  const meter: Array<string | null> = [];
  const period: Array<string | null> = [];
  const details: string[] = [];
  const occurred: string[] = [];
  const batch: string[] = [];
  for (const b of batches) {
    for (const e of b.events) {
      type.push(e.type);
      tenant.push(e.tenantId);
      user.push(e.userId);
      meter.push(e.meter);
      period.push(e.period);
      details.push(JSON.stringify(e.details ?? {}));
      occurred.push(new Date(e.occurredAt).toISOString());
      batch.push(b.batchId);
    }
  }
  if (type.length === 0) return 0;
  await tx.query(INSERT_EVENTS, [type, tenant, user, meter, period, details, occurred, batch]);
  return type.length;
}

/**
 * Writes claimed batches in one transaction. Batch ids already in `flush_batches` are skipped, so
 * writing the same batch twice (a re-issued stale claim, a retry after an unknown commit outcome)
 * changes nothing. The caller acknowledges every batch (written and skipped) after this resolves.
 */
export async function writeBatches(
  sql: SqlClient,
  input: readonly ClaimedBatch[],
  options: WriteOptions,
): Promise<WriteResult> {
  const byId = new Map<string, ClaimedBatch>();
  for (const b of input) if (!byId.has(b.batchId)) byId.set(b.batchId, b);
  // Sorted ids: concurrent flushers lock flush_batches keys in one order, so they never deadlock.
  const ids = [...byId.keys()].sort();
  if (ids.length === 0) return { written: [], skipped: [], rows: 0, events: 0 };
  const buckets = new Set<number>();
  for (const b of byId.values()) for (const d of b.usage) buckets.add(d.bucketStart);
  await options.partitions.ensureFor(buckets);

  const chunk = options.chunkRows ?? 20_000;
  const result = await sql
    .transaction(async (tx) => {
      const fresh = await tx.query<{ batch_id: string }>(
        'INSERT INTO flush_batches (batch_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING RETURNING batch_id',
        [ids],
      );
      const freshIds = new Set(fresh.rows.map((r) => r.batch_id));
      const written = ids.filter((id) => freshIds.has(id)).map((id) => byId.get(id)!);
      const skipped = ids.filter((id) => !freshIds.has(id)).map((id) => byId.get(id)!);
      const rows =
        options.method === 'insert' ? await insertLedger(tx, written, chunk) : await copyLedger(tx, written);
      const events = await insertEvents(tx, written);
      await options.hooks?.beforeCommit?.(written);
      return { written, skipped, rows, events };
    })
    .catch((err: unknown) => {
      // "no partition of relation found": another process's retention dropped one we remembered.
      if ((err as { code?: string }).code === NO_PARTITION) options.partitions.forget();
      throw err;
    });
  await options.hooks?.afterCommit?.(result.written);
  return result;
}
