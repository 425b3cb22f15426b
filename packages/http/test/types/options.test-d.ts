// Type-level tests of the options derived from the option tables, compiled by `npm run typecheck` and never run:
// the input types (optional where a default exists), the resolved types (defaults filled in) and the defaults.
import type { IncomingMessage } from 'node:http';
import type {
  BaselineQuery,
  BaselineSource,
  CounterStore,
  TollgateConfig,
  TollgateConfigInput,
} from '@tollgate/core';
import {
  createTollgate,
  type ResolvedTollgateOptions,
  type ResolvedTrackUsageOptions,
  type TollgateLogger,
  type TollgateOptions,
  type TrackUsageOptions,
} from '../../src';
// The defaults objects are not on the entry point (docs/configuration.md lists the defaults).
import { TOLLGATE_DEFAULTS, TRACK_USAGE_DEFAULTS } from '../../src/options';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const expectTrue = <T extends true>(): T => true as T;

declare const store: CounterStore;
declare const config: TollgateConfig;

createTollgate({ store, config });
createTollgate({ store, config: { plans: { free: { limits: { requests: { day: 5 } } } } }, mode: 'shadow' });
createTollgate({ store, config, baseline: async (q) => q.period.length, logger: console });
// @ts-expect-error the HTTP options are trackUsage()'s only
createTollgate({ store, config, paths: ['/api'] });
// @ts-expect-error durability is 'delivered' or 'batched'
createTollgate({ store, config, durability: 'eventually' });

// Inputs: exactly the types they were declared with, optional where a default exists.
expectTrue<Equals<TollgateOptions['store'], CounterStore>>();
expectTrue<Equals<TollgateOptions['config'], TollgateConfig | TollgateConfigInput>>();
expectTrue<
  Equals<TollgateOptions['baseline'], BaselineSource | ((q: BaselineQuery) => Promise<number>) | undefined>
>();
expectTrue<Equals<TollgateOptions['logger'], TollgateLogger | undefined>>();
expectTrue<Equals<TollgateOptions['storeTimeoutMs'], number | undefined>>();
expectTrue<Equals<Parameters<NonNullable<TrackUsageOptions['skip']>>, [req: IncomingMessage]>>();
expectTrue<Equals<TrackUsageOptions<{ custom: true }>['signingSecret'], string | undefined>>();

// Resolved: every default filled in, the config parsed, the callbacks still optional.
expectTrue<Equals<ResolvedTollgateOptions['config'], TollgateConfig>>();
expectTrue<Equals<ResolvedTollgateOptions['logger'], TollgateLogger>>();
expectTrue<Equals<ResolvedTollgateOptions['mode'], 'enforce' | 'shadow'>>();
expectTrue<Equals<ResolvedTrackUsageOptions<IncomingMessage>['paths'], Array<string | RegExp>>>();
expectTrue<Equals<ResolvedTrackUsageOptions<IncomingMessage>['leaseMs'], number>>();
expectTrue<
  Equals<
    ResolvedTrackUsageOptions<{ custom: true }>['skip'],
    ((req: { custom: true }) => boolean) | undefined
  >
>();
const resolved = {} as ResolvedTrackUsageOptions<IncomingMessage>;
const narrower: ResolvedTollgateOptions = resolved;

// Defaults: only options that have one.
expectTrue<Equals<typeof TOLLGATE_DEFAULTS.durability, 'delivered' | 'batched'>>();
expectTrue<Equals<typeof TRACK_USAGE_DEFAULTS.requireIdentity, boolean>>();
// @ts-expect-error onThreshold has no default
void TRACK_USAGE_DEFAULTS.onThreshold;

export { narrower };
