// A migrated Postgres database of the calling test file (or describe block) of its own: made before its tests,
// dropped after them.
/// <reference types="jest" />
import { PgSqlClient, migrate } from '../../src';
import { createTestDatabase } from '../../../../test-support/services';

export function ownDatabase(name: string, connections = 2): { sql: () => PgSqlClient } {
  let db: { url: string; drop: () => Promise<void> } | null = null;
  let sql: PgSqlClient | null = null;
  beforeAll(async () => {
    db = await createTestDatabase(name);
    sql = new PgSqlClient({ pool: { connectionString: db.url, max: connections } });
    await migrate(sql);
  });
  afterAll(async () => {
    await sql?.close();
    await db?.drop();
  });
  return {
    sql: () => {
      if (sql === null) throw new Error('ownDatabase: the client is only there inside the tests');
      return sql;
    },
  };
}
