// The quota engine: QuotaEngine and the types of what it takes and answers.
export { QuotaEngine, type QuotaEngineOptions } from './quota-engine';
export type { Admission, ConsumeOptions, Violation } from './admission-ops';
export type { RecordResult, SplitRequests } from './record-ops';
export type { QuotaCheck, QuotaLine, QuotaStatus } from './queries';
export type { BaselineQuery, BaselineSource, OverrideShard } from './seeding';
export { isSpent, latestResetting, percentage } from './limits';
