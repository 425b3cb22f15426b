// `@tollgate/core`'s entry points, name by name: a name added or removed is an API change, reviewed here.
import * as core from '@tollgate/core';
import * as internal from '@tollgate/core/internal';
import * as testing from '@tollgate/core/testing';
import { typeOnlyExports } from '../../../../test-support/public-api';

describe('@tollgate/core', () => {
  it('exports exactly these runtime names', () => {
    expect(Object.keys(core).sort()).toEqual([
      'ConfigError',
      'ErrorCode',
      'InvalidUsageError',
      'MemoryStore',
      'PERIODS',
      'PriceBook',
      'QuotaEngine',
      'QuotaExceededError',
      'StoreUnavailableError',
      'TollgateError',
      'assertCounterStore',
      'errorDocsUrl',
      'isUsdAmount',
      'loadConfig',
      'parseConfig',
      'periodWindow',
      'picoToUsd',
      'usdToPico',
    ]);
  });

  it('exports exactly these types', () => {
    expect(typeOnlyExports('packages/core/src/index.ts')).toEqual([
      'Admission',
      'ApplyManyResult',
      'ApplyOp',
      'ApplyResult',
      'BaselineQuery',
      'BaselineSource',
      'ClaimOptions',
      'ClaimedBatch',
      'ConsumeOptions',
      'CounterState',
      'CounterStore',
      'Identity',
      'LimitSpec',
      'LimitTable',
      'MemoryStoreOptions',
      'MeterAmount',
      'MeterKind',
      'ModelPrice',
      'OverrideEntry',
      'OverrideShard',
      'OverrideTargetInput',
      'Period',
      'PeriodWindow',
      'PriceInput',
      'PriceMatch',
      'QuotaCheck',
      'QuotaEngineOptions',
      'QuotaLine',
      'QuotaProblem',
      'QuotaStatus',
      'ReadOp',
      'ReadResult',
      'RecordResult',
      'ResolvedSubject',
      'Scope',
      'ScopeRef',
      'SeedOp',
      'SimpleProblem',
      'SplitRequests',
      'ThresholdCrossing',
      'TollgateConfig',
      'TollgateConfigInput',
      'UnpricedPolicy',
      'UsageDelta',
      'UsageEventRecord',
      'UsageRecord',
      'Violation',
      'WebhookConfig',
    ]);
  });
});

describe('@tollgate/core/internal (unstable)', () => {
  it('exports exactly these runtime names', () => {
    expect(Object.keys(internal).sort()).toEqual([
      'BUILTIN_METERS',
      'COUNTER_CEILING',
      'ERROR_DOCS_URL',
      'MAX_OPS_PER_CALL',
      'OpIds',
      'UnreadableTarget',
      'afterRejectionIdOf',
      'apiAmount',
      'canonicalTarget',
      'checkAmounts',
      'coalesceApplies',
      'compilePrice',
      'counterDigits',
      'counterPico',
      'currentWindows',
      'hourBucket',
      'isConfiguredMeter',
      'isLimitValue',
      'isParsedConfig',
      'isSpent',
      'isUnreadable',
      'latestResetting',
      'leaseCloseIdOf',
      'localDate',
      'numericToPico',
      'numericToUsd',
      'parseLimit',
      'picoAmount',
      'picoToNumeric',
      'refundIdOf',
      'releaseIdOf',
      'reservationIdOf',
      'settleIdOf',
      'stripVersionSuffix',
      'tokenCostPico',
      'validateRecord',
    ]);
  });

  it('exports exactly these types', () => {
    expect(typeOnlyExports('packages/core/src/internal.ts')).toEqual([
      'CanonicalTargetOptions',
      'UnreadableReason',
    ]);
  });
});

describe('@tollgate/core/testing', () => {
  it('exports exactly these runtime names', () => {
    expect(Object.keys(testing).sort()).toEqual(['CONTRACT_CONFIG', 'TestClock', 'storeContractSuite']);
  });

  it('exports exactly these types', () => {
    expect(typeOnlyExports('packages/core/src/testing/index.ts')).toEqual(['ContractStoreFactory']);
  });
});
