// The same ledger suite on embedded PGlite (in memory), as `npm start` runs it without Postgres.
import { PgliteSqlClient } from '../../src';
import { ledgerSuite } from '../support/ledger-suite';
import { nativePglite } from '../support/native-pglite';

ledgerSuite({
  name: 'PGlite',
  open: () => PgliteSqlClient.open({ pglite: nativePglite() }),
  close: (sql) => sql.close(),
});
