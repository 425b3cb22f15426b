// A SqlClient for flusher timing tests: fails while `down`, otherwise remembers what COPY received.
import type { SqlClient, SqlExecutor, SqlResult } from '../../src';

/** A database that fails while `down` and otherwise remembers what COPY received. */
export class FakeDb implements SqlClient {
  readonly dialect = 'postgres' as const;
  down = false;
  rows: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  transactions = 0;

  async query<R extends object>(text: string, params?: readonly unknown[]): Promise<SqlResult<R>> {
    if (this.down) throw new Error('connect ECONNREFUSED');
    if (text.includes('INSERT INTO flush_batches')) {
      const rows = (params![0] as string[]).map((batch_id) => ({ batch_id })) as unknown as R[];
      return { rows, rowCount: rows.length };
    }
    return { rows: [], rowCount: 0 };
  }
  async exec(): Promise<void> {
    if (this.down) throw new Error('connect ECONNREFUSED');
  }
  async copyFrom(_target: string, chunks: readonly string[]): Promise<number> {
    const lines = chunks.join('').split('\n').filter(Boolean);
    this.rows.push(...lines);
    return lines.length;
  }
  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    this.transactions += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.down) throw new Error('connect ECONNREFUSED');
      const before = this.rows.length;
      try {
        return await fn(this);
      } catch (err) {
        this.rows.length = before;
        throw err;
      }
    } finally {
      this.inFlight -= 1;
    }
  }
  async close(): Promise<void> {}
}
