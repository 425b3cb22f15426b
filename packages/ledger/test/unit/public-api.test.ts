// `@tollgate/ledger`'s entry points, name by name: a name added or removed is an API change, reviewed here.
import * as ledger from '@tollgate/ledger';
import * as internal from '@tollgate/ledger/internal';
import { typeOnlyExports } from '../../../../test-support/public-api';

describe('@tollgate/ledger', () => {
  it('exports exactly these runtime names', () => {
    expect(Object.keys(ledger).sort()).toEqual([
      'ApiKeyResolver',
      'Flusher',
      'LedgerBaseline',
      'PGLITE_PARSERS',
      'PartitionManager',
      'PgSqlClient',
      'PgliteSqlClient',
      'apiKeyIdentity',
      'createApiKey',
      'deleteOverride',
      'exportCsv',
      'findApiKey',
      'listApiKeys',
      'listEvents',
      'listOverrides',
      'migrate',
      'openSqlClient',
      'revokeApiKey',
      'rotateApiKey',
      'saveOverride',
      'topConsumers',
      'upsertOverride',
      'usageStats',
      'usageTimeseries',
      'writeBatches',
    ]);
  });

  it('exports exactly these types', () => {
    expect(typeOnlyExports('packages/ledger/src/index.ts')).toEqual([
      'ApiKeyFailure',
      'ApiKeyIdentify',
      'ApiKeyIdentityOptions',
      'ApiKeyRecord',
      'ApiKeyResolution',
      'ApiKeyResolverOptions',
      'CreatedApiKey',
      'EventsQuery',
      'ExportQuery',
      'FlushReport',
      'FlusherOptions',
      'MeterTotal',
      'MigrateOptions',
      'ModelTotal',
      'NewApiKey',
      'OpenLedgerOptions',
      'PgSqlClientOptions',
      'PgliteSqlClientOptions',
      'SqlClient',
      'SqlExecutor',
      'SqlResult',
      'StatsQuery',
      'StoredOverride',
      'TimeseriesPoint',
      'TimeseriesQuery',
      'TopConsumer',
      'TopQuery',
      'UsageEvent',
      'UsageFilter',
      'UsageStats',
      'WriteHooks',
      'WriteOptions',
      'WriteResult',
    ]);
  });
});

describe('@tollgate/ledger/internal (unstable)', () => {
  it('exports exactly these runtime names', () => {
    expect(Object.keys(internal).sort()).toEqual([
      'addMonths',
      'apiKeyRefusal',
      'apiKeySuccessor',
      'csvField',
      'looksLikeApiKey',
      'monthOf',
      'oldestKeptMonth',
      'parsePartitionName',
      'partitionName',
      'runFlusher',
    ]);
  });

  it('exports exactly these types', () => {
    expect(typeOnlyExports('packages/ledger/src/internal.ts')).toEqual([
      'FlusherLog',
      'Month',
      'RunFlusherOptions',
      'RunningFlusher',
    ]);
  });
});
