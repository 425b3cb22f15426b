// SqlClient over a node-postgres Pool: one checked-out client per transaction.
import { Pool, type PoolClient, type PoolConfig } from 'pg';
import { copyFromStdin } from './pg-copy';
import type { SqlClient, SqlExecutor, SqlResult } from './sql-client';

export interface PgSqlClientOptions {
  /** The caller's pool (left open by `close()`), or connection settings for a pool this client owns. */
  pool: Pool | PoolConfig;
  /** Called with errors of idle pooled connections (which would otherwise crash the process). Defaults to ignoring them: the next query reports the outage. */
  onError?: (err: Error) => void;
}

async function withClient<T>(target: Pool | PoolClient, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  if (!(target instanceof Pool)) return fn(target);
  const client = await target.connect();
  let broken: Error | undefined;
  try {
    return await fn(client);
  } catch (err) {
    broken = err as Error;
    throw err;
  } finally {
    client.release(broken);
  }
}

function executor(target: Pool | PoolClient): SqlExecutor {
  return {
    copyFrom(table: string, chunks: readonly string[]): Promise<number> {
      return withClient(target, (c) => copyFromStdin(c, table, chunks));
    },
    async query<R extends object>(text: string, params?: readonly unknown[]): Promise<SqlResult<R>> {
      const res = await target.query<R>(text, params as unknown[] | undefined);
      return { rows: res.rows, rowCount: res.rowCount ?? res.rows.length };
    },
    async exec(script: string): Promise<void> {
      // Without parameters node-postgres uses the simple protocol, which runs several statements.
      await target.query(script);
    },
  };
}

export class PgSqlClient implements SqlClient {
  readonly dialect = 'postgres' as const;
  readonly pool: Pool;
  private readonly ownsPool: boolean;
  private readonly base: SqlExecutor;

  constructor(options: PgSqlClientOptions) {
    this.ownsPool = !(options.pool instanceof Pool);
    this.pool = options.pool instanceof Pool ? options.pool : new Pool(options.pool);
    const onError = options.onError ?? (() => undefined);
    this.pool.on('error', onError);
    this.base = executor(this.pool);
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

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // A checked-out client has no pool listener: a socket error between two queries would crash the process.
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await fn(executor(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        // The connection itself is gone: destroy it instead of returning it to the pool.
        broken = rollbackErr as Error;
      }
      throw err;
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }
}
