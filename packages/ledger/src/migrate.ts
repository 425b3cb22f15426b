// Runs the numbered .sql migrations once per database, under an advisory lock so parallel starts are safe.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { SqlClient } from './sql-client';

/** Advisory lock key shared by every Tollgate process that changes the schema. */
export const SCHEMA_LOCK_KEY = '7465727001';

/** The package's migrations folder: one level above both `src/` and `dist/`, so sources and builds find it. */
export const MIGRATIONS_DIR = path.resolve(__dirname, '..', 'migrations');

export interface MigrateOptions {
  /** Folder of `NNN_name.sql` files. Defaults to the package's `migrations/`. */
  dir?: string;
}

/** Applies every migration not yet recorded in `tollgate_migrations`, in name order; returns the names applied. */
export async function migrate(sql: SqlClient, options: MigrateOptions = {}): Promise<string[]> {
  const dir = options.dir ?? MIGRATIONS_DIR;
  const files = readdirSync(dir)
    .filter((f) => /^\d+_[\w-]+\.sql$/.test(f))
    .sort();
  // One transaction: the xact lock makes a second process wait, then find everything applied.
  return sql.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [SCHEMA_LOCK_KEY]);
    await tx.exec(
      'CREATE TABLE IF NOT EXISTS tollgate_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = await tx.query<{ name: string }>('SELECT name FROM tollgate_migrations');
    const applied = new Set(done.rows.map((r) => r.name));
    const ran: string[] = [];
    for (const file of files) {
      if (applied.has(file)) continue;
      await tx.exec(readFileSync(path.join(dir, file), 'utf8'));
      await tx.query('INSERT INTO tollgate_migrations (name) VALUES ($1)', [file]);
      ran.push(file);
    }
    return ran;
  });
}
