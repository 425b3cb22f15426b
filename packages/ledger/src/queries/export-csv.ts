// CSV export of ledger rows as a stream, page by page (keyset pagination: no long transaction, works on PGlite).
import { Readable } from 'node:stream';
import type { SqlExecutor } from '../sql-client';
import { numericToUsd } from '@tollgate/core/internal';
import { Params, ownerConditions, type UsageFilter } from './filter';

export interface ExportQuery {
  filter: UsageFilter;
  /** Inclusive start (by hour bucket). Defaults to no start. */
  from?: Date;
  /** Exclusive end. Defaults to no end. */
  to?: Date;
  /** Rows fetched per query. Defaults to 5000. */
  pageSize?: number;
}

export const CSV_COLUMNS = [
  'bucket_start',
  'tenant_id',
  'user_id',
  'meter',
  'model',
  'amount',
  'cost_usd',
  'estimated',
  'batch_id',
  'recorded_at',
] as const;

interface ExportRow {
  bucket_start: Date;
  tenant_id: string | null;
  user_id: string | null;
  meter: string;
  model: string | null;
  amount: string;
  cost_usd: string;
  estimated: boolean;
  batch_id: string;
  batch_row: number;
  recorded_at: Date;
}

/**
 * A spreadsheet runs a cell as a formula when it starts, after any blanks, with one of these (or their fullwidth
 * forms ＝ ＋ － ＠, which some spreadsheets fold to ASCII); tab and CR are how cells get smuggled into a row.
 */
const FORMULA_START = /^\s*[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
// `;` and tab separate fields in the CSV dialects of many locales, so a field holding one is quoted too.
const NEEDS_QUOTES = /[",;\t\r\n]/;

/**
 * One CSV field (RFC 4180, quoted when it holds `,` `;` tab `"` CR or LF). Text that a spreadsheet would run as a
 * formula is prefixed with `'`; `text: false` marks the columns the ledger types as numbers or timestamps, whose
 * values (a gauge's -5) are never formulas and stay as they are.
 */
export function csvField(value: string | null, text = true): string {
  if (value === null) return '';
  let v = value;
  if (text && FORMULA_START.test(v)) v = `'${v}`;
  return NEEDS_QUOTES.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function csvLine(r: ExportRow): string {
  return (
    [
      csvField(new Date(r.bucket_start).toISOString(), false),
      csvField(r.tenant_id),
      csvField(r.user_id),
      csvField(r.meter),
      csvField(r.model),
      csvField(r.amount, false),
      csvField(numericToUsd(r.cost_usd), false),
      r.estimated ? 'true' : 'false',
      csvField(r.batch_id),
      csvField(new Date(r.recorded_at).toISOString(), false),
    ].join(',') + '\r\n'
  );
}

async function* pages(sql: SqlExecutor, q: ExportQuery): AsyncGenerator<string> {
  const pageSize = q.pageSize ?? 5000;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1)
    throw new RangeError('pageSize must be a positive integer');
  yield CSV_COLUMNS.join(',') + '\r\n';
  let after: { bucket: string; batch: string; row: number } | null = null;
  for (;;) {
    const p = new Params();
    const conds = ownerConditions(q.filter, p);
    if (q.from) conds.push(`bucket_start >= ${p.add(q.from.toISOString())}`);
    if (q.to) conds.push(`bucket_start < ${p.add(q.to.toISOString())}`);
    if (after) {
      conds.push(
        `(bucket_start, batch_id, batch_row) > (${p.add(after.bucket)}::timestamptz, ${p.add(after.batch)}, ${p.add(after.row)}::int)`,
      );
    }
    const res = await sql.query<ExportRow>(
      `SELECT bucket_start, tenant_id, user_id, meter, model, amount::text AS amount, cost_usd::text AS cost_usd,
              estimated, batch_id, batch_row, recorded_at
       FROM usage_ledger ${conds.length > 0 ? `WHERE ${conds.join(' AND ')}` : ''}
       ORDER BY bucket_start, batch_id, batch_row LIMIT ${p.add(pageSize)}`,
      p.values,
    );
    if (res.rows.length > 0) yield res.rows.map(csvLine).join('');
    if (res.rows.length < pageSize) return;
    const last = res.rows[res.rows.length - 1]!;
    after = { bucket: new Date(last.bucket_start).toISOString(), batch: last.batch_id, row: last.batch_row };
  }
}

/** The owner's ledger rows as CSV (header first, CRLF lines), oldest first; read it with `pipe()` or `for await`. */
export function exportCsv(sql: SqlExecutor, q: ExportQuery): Readable {
  return Readable.from(pages(sql, q), { objectMode: false, encoding: 'utf8' });
}
