// `npm run migrate`: applies the ledger migrations (Postgres at DATABASE_URL, else the embedded PGlite) and exits.
import { migrate, openSqlClient } from '@tollgate/ledger';
import { parseSettings, SettingError } from './env';

async function main(): Promise<void> {
  try {
    const settings = parseSettings(process.env, { needStore: false });
    const sql = await openSqlClient({
      databaseUrl: settings.databaseUrl ?? undefined,
      dataDir: settings.dataDir,
    });
    try {
      const applied = await migrate(sql);
      process.stdout.write(applied.length > 0 ? `applied ${applied.join(', ')}\n` : 'schema is up to date\n');
    } finally {
      await sql.close();
    }
  } catch (err) {
    const msg = err instanceof SettingError ? `invalid setting ${err.message}` : (err as Error).message;
    process.stderr.write(`tollgate-migrate: ${msg}\n`);
    process.exit(err instanceof SettingError ? 2 : 1);
  }
}

void main();
