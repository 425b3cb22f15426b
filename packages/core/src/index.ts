// @tollgate/core: config, periods, pricing, the quota engine and the CounterStore contract.
export * from './errors';
export * from './meters';
export * from './money';
export * from './periods';
export * from './pricing';
export * from './config';
export * from './store';
export * from './subject';
export * from './usage';
export * from './engine';
export * from './memory-store';
export * from './canonical-target';
export type { QuotaProblem, SimpleProblem } from './problem-body';
