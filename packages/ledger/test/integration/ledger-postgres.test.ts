// The ledger suite on a real Postgres (a database of its own).
import { createTestDatabase } from '../../../../test-support/services';
import { PgSqlClient } from '../../src';
import { ledgerSuite } from '../support/ledger-suite';

let drop: (() => Promise<void>) | null = null;

ledgerSuite({
  name: 'Postgres',
  open: async () => {
    const db = await createTestDatabase('ledger_suite');
    drop = db.drop;
    return new PgSqlClient({ pool: { connectionString: db.url, max: 5 } });
  },
  close: async (sql) => {
    await sql.close();
    await drop?.();
  },
});
