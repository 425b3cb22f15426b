// The one small database interface the ledger runs on: node-postgres and PGlite both implement it.

/** Rows of one statement. */
export interface SqlResult<R> {
  rows: R[];
  /** Rows returned, or changed by an INSERT/UPDATE/DELETE. */
  rowCount: number;
}

/** What a transaction body (or the client itself) can run. */
export interface SqlExecutor {
  /** One parameterised statement (`$1`, `$2`, ...). `bigint` and `numeric` values come back as strings. */
  query<R extends object = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
  ): Promise<SqlResult<R>>;
  /** A script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
  /**
   * Bulk-loads rows with COPY: `target` is `table (col, ...)`, `chunks` are CSV text (RFC 4180, an
   * unquoted empty field is NULL) split anywhere between rows. Resolves with the number of rows.
   */
  copyFrom(target: string, chunks: readonly string[]): Promise<number>;
}

export interface SqlClient extends SqlExecutor {
  /** `postgres` (node-postgres pool) or `pglite` (embedded, one connection). */
  readonly dialect: 'postgres' | 'pglite';
  /**
   * Runs `fn` in one transaction on one connection: COMMIT when it resolves, ROLLBACK when it
   * throws (the error is rethrown). On PGlite, transactions and queries run one at a time.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Releases what this client owns (a pool it created, an embedded database); never the caller's pool. */
  close(): Promise<void>;
}
