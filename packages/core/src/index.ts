// @tollgate/core: config, periods, pricing, the quota engine and the CounterStore contract.
//
// Every name here is meant for users (the package README and docs/ describe them); each type a public signature
// mentions is exported too. What only Tollgate's own packages, tests and benches need is in `@tollgate/core/internal`
// (unstable); the store contract suite is in `@tollgate/core/testing`.

// Errors: one TollgateError base with a `code` (ErrorCode) and a `docs` link (docs/error-codes.md).
export {
  ConfigError,
  ErrorCode,
  errorDocsUrl,
  InvalidUsageError,
  QuotaExceededError,
  StoreUnavailableError,
  TollgateError,
} from './errors';
export type { QuotaProblem, SimpleProblem } from './problem-body';

// Config: loading and validating a config file or object, and the parsed config's shape.
export { loadConfig, parseConfig } from './config';
export type { LimitTable, TollgateConfig, TollgateConfigInput, WebhookConfig } from './config';
export type { MeterKind } from './meters';

// Calendar periods (DST-safe windows in a time zone).
export { PERIODS, periodWindow, type Period, type PeriodWindow } from './periods';

// Pricing and money: a model's price by the configured lookup; USD decimal strings to and from pico-dollars.
export { PriceBook, type ModelPrice, type PriceInput, type PriceMatch, type UnpricedPolicy } from './pricing';
export { isUsdAmount, picoToUsd, usdToPico } from './money';

// Who is metered and what is recorded.
export type { Identity, OverrideTargetInput, ResolvedSubject } from './subject';
export type { UsageRecord } from './usage';

// The CounterStore contract (docs/writing-a-store.md) and the types of its operations.
export { assertCounterStore } from './store';
export type {
  ApplyManyResult,
  ApplyOp,
  ApplyResult,
  ClaimedBatch,
  ClaimOptions,
  CounterState,
  CounterStore,
  LimitSpec,
  MeterAmount,
  OverrideEntry,
  ReadOp,
  ReadResult,
  Scope,
  ScopeRef,
  SeedOp,
  ThresholdCrossing,
  UsageDelta,
  UsageEventRecord,
} from './store';

// The in-process store: one process, tests, the gateway's embedded mode.
export { MemoryStore, type MemoryStoreOptions } from './memory-store/memory-store';

// The quota engine under createTollgate (@tollgate/http), for adapters, and what it takes and answers.
export { QuotaEngine, type QuotaEngineOptions } from './engine/quota-engine';
export type { Admission, ConsumeOptions, Violation } from './engine/admission-ops';
export type { RecordResult, SplitRequests } from './engine/record-ops';
export type { QuotaCheck, QuotaLine, QuotaStatus } from './engine/queries';
export type { BaselineQuery, BaselineSource, OverrideShard } from './engine/seeding';
