// Opens the ledger database apps use: Postgres when a URL is given, else embedded PGlite on disk.
import path from 'node:path';
import { PgSqlClient } from './pg-client';
import { PgliteSqlClient } from './pglite-client';
import type { SqlClient } from './sql-client';

export interface OpenLedgerOptions {
  /** Postgres connection string. Defaults to none: embedded PGlite. */
  databaseUrl?: string;
  /** Where embedded data lives (`<dataDir>/pglite`). Defaults to `./.tollgate`. */
  dataDir?: string;
  /** Most pooled Postgres connections. Defaults to 10. */
  poolSize?: number;
  /** Errors of idle pooled connections. Defaults to ignoring them. */
  onError?: (err: Error) => void;
}

export async function openSqlClient(options: OpenLedgerOptions = {}): Promise<SqlClient> {
  if (options.databaseUrl) {
    return new PgSqlClient({
      // Bounded connect: an unreachable Postgres fails the flush (retried with backoff) instead of hanging it.
      pool: {
        connectionString: options.databaseUrl,
        max: options.poolSize ?? 10,
        connectionTimeoutMillis: 10_000,
        query_timeout: 60_000,
      },
      onError: options.onError,
    });
  }
  return PgliteSqlClient.open({ dataDir: path.join(options.dataDir ?? '.tollgate', 'pglite') });
}
