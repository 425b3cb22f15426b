// The usage ledger (Postgres or PGlite): opened from the settings unless given, migrated before anything is served.
import { migrate, openSqlClient, type SqlClient } from '@tollgate/ledger';
import type { GatewaySettings } from '../env';
import type { Logger } from '../logger';
import type { Cleanups } from './cleanups';

/** The caller's client when given (the caller closes it), else the settings' (closed at shutdown). */
export async function openLedger(
  settings: GatewaySettings,
  given: SqlClient | undefined,
  log: Logger,
  cleanups: Cleanups,
): Promise<SqlClient> {
  let sql = given;
  if (!sql) {
    const opened = await openSqlClient({
      databaseUrl: settings.databaseUrl ?? undefined,
      dataDir: settings.dataDir,
      onError: (err) => log.warn({ err: err.message }, 'ledger connection error'),
    });
    cleanups.add(() => opened.close());
    sql = opened;
  }
  // Migrations run at start (under an advisory lock) before anything is served.
  await migrate(sql);
  return sql;
}
