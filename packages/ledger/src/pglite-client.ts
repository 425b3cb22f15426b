// SqlClient over PGlite (embedded Postgres in WASM): the same schema and queries, on one connection.
import { mkdirSync } from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';
import type { SqlClient, SqlExecutor, SqlResult } from './sql-client';

export interface PgliteSqlClientOptions {
  /** Directory of the database files; created if missing. Defaults to in-memory (lost on close). */
  dataDir?: string;
  /**
   * The PGlite class to open with, e.g. one loaded outside a test sandbox that cannot run its
   * dynamic imports (jest without --experimental-vm-modules). Defaults to `@electric-sql/pglite`'s.
   */
  pglite?: Pick<typeof PGlite, 'create'>;
}

const INT8_OID = 20;

/** bigint as string, like node-postgres, so both clients return the same shapes. */
export const PGLITE_PARSERS = { [INT8_OID]: (v: string): string => v };

interface PgliteLike {
  query<T>(
    query: string,
    params?: unknown[],
    options?: { blob?: Blob },
  ): Promise<{ rows: T[]; affectedRows?: number }>;
  exec(query: string): Promise<unknown>;
}

function executor(target: PgliteLike): SqlExecutor {
  return {
    async copyFrom(table: string, chunks: readonly string[]): Promise<number> {
      // PGlite reads COPY input from the virtual file /dev/blob.
      const res = await target.query(`COPY ${table} FROM '/dev/blob' WITH (FORMAT csv)`, [], {
        blob: new Blob([...chunks]),
      });
      return res.affectedRows ?? 0;
    },
    async query<R extends object>(text: string, params?: readonly unknown[]): Promise<SqlResult<R>> {
      const res = await target.query<R>(text, params ? [...params] : undefined);
      return { rows: res.rows, rowCount: res.rows.length > 0 ? res.rows.length : (res.affectedRows ?? 0) };
    },
    async exec(script: string): Promise<void> {
      await target.exec(script);
    },
  };
}

export class PgliteSqlClient implements SqlClient {
  readonly dialect = 'pglite' as const;
  private readonly base: SqlExecutor;

  private constructor(
    readonly db: PGlite,
    private readonly owned: boolean,
  ) {
    this.base = executor(db as unknown as PgliteLike);
  }

  /** Opens (or creates) the embedded database; `close()` closes it. */
  static async open(options: PgliteSqlClientOptions = {}): Promise<PgliteSqlClient> {
    if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
    // Loaded on first use: processes that only talk to Postgres never pay for the WASM module.
    const factory = options.pglite ?? (await import('@electric-sql/pglite')).PGlite;
    const db = await factory.create(options.dataDir, { parsers: PGLITE_PARSERS });
    return new PgliteSqlClient(db, true);
  }

  /**
   * Wraps the caller's PGlite (left open by `close()`). Open it with `parsers: PGLITE_PARSERS` so
   * bigint columns come back as strings, as with node-postgres.
   */
  static wrap(db: PGlite): PgliteSqlClient {
    return new PgliteSqlClient(db, false);
  }

  query<R extends object = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
  ): Promise<SqlResult<R>> {
    return this.base.query<R>(text, params);
  }

  exec(script: string): Promise<void> {
    return this.base.exec(script);
  }

  copyFrom(target: string, chunks: readonly string[]): Promise<number> {
    return this.base.copyFrom(target, chunks);
  }

  // PGlite runs one transaction at a time and queues plain queries behind it, so callers never interleave.
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => fn(executor(tx as unknown as PgliteLike)));
  }

  async close(): Promise<void> {
    if (this.owned && !this.db.closed) await this.db.close();
  }
}
