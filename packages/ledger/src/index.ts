// @tollgate/ledger: Postgres/PGlite schema and migrations, the exactly-once flusher, baseline and usage queries.
//
// Every name here is meant for users (the package README and docs/api-keys.md describe them); each type a public
// signature mentions is exported too. What only the apps, tests and benches need is in `@tollgate/ledger/internal`
// (unstable).

// One small SqlClient over a pg.Pool or PGlite.
export type { SqlClient, SqlExecutor, SqlResult } from './sql-client';
export { PgSqlClient, type PgSqlClientOptions } from './pg-client';
export { PGLITE_PARSERS, PgliteSqlClient, type PgliteSqlClientOptions } from './pglite-client';
export { openSqlClient, type OpenLedgerOptions } from './open';

// The schema: numbered migrations under an advisory lock.
export { migrate, type MigrateOptions } from './migrate';

// The exactly-once flush from the counter store into usage_ledger, and the monthly partitions it writes.
export { Flusher, type FlushReport, type FlusherOptions } from './flusher';
export { writeBatches, type WriteHooks, type WriteOptions, type WriteResult } from './ledger-writer';
export { PartitionManager } from './partitions';

// Rebuilding counters a store lost, and the durable copy of quota overrides.
export { LedgerBaseline } from './baseline';
export {
  deleteOverride,
  listOverrides,
  saveOverride,
  upsertOverride,
  type StoredOverride,
} from './overrides';

// The usage queries behind the usage API.
export type { UsageFilter } from './queries/filter';
export {
  usageStats,
  type MeterTotal,
  type ModelTotal,
  type StatsQuery,
  type UsageStats,
} from './queries/stats';
export { usageTimeseries, type TimeseriesPoint, type TimeseriesQuery } from './queries/timeseries';
export { topConsumers, type TopConsumer, type TopQuery } from './queries/top';
export { listEvents, type EventsQuery, type UsageEvent } from './queries/events';
export { exportCsv, type ExportQuery } from './queries/export-csv';

// Tollgate API keys: the resolver for trackUsage's `identify` (docs/api-keys.md) and the keys' life cycle.
export {
  apiKeyIdentity,
  ApiKeyResolver,
  type ApiKeyFailure,
  type ApiKeyIdentify,
  type ApiKeyIdentityOptions,
  type ApiKeyResolution,
  type ApiKeyResolverOptions,
} from './api-key-resolver';
export {
  createApiKey,
  findApiKey,
  listApiKeys,
  revokeApiKey,
  rotateApiKey,
  type ApiKeyRecord,
  type CreatedApiKey,
  type NewApiKey,
} from './api-keys';
