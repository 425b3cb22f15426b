// Type-level tests of trackUsage() options, compiled by `npm run typecheck` and never run: what the compiler accepts,
// refuses and infers, through the .d.ts that @tollgate/http emits.
import type { Request } from 'express';
import type { CounterStore, Identity, TollgateConfig } from '@tollgate/core';
import type { RejectedEvent, ThresholdEvent, TrackUsageOptions } from '@tollgate/http';
import { trackUsage, type ExpressTrackUsageOptions } from '../../src';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const expectTrue = <T extends true>(): T => true as T;

declare const store: CounterStore;
declare const config: TollgateConfig;

// The callbacks' parameter is Express's request: its own members type-check without a cast.
trackUsage({
  store,
  config,
  identify: (req) => ({ userId: req.get('x-user-id'), tenantId: req.hostname }),
  skip: (req) => req.path === '/health',
  reserve: (req) => ({ tokens: Number(req.query['max_tokens'] ?? 4000) }),
  onThreshold: (event) => void event.threshold,
  onRejected: (event) => void event.status,
});
trackUsage({ store, config, identify: async (req) => (req.ip ? { userId: req.ip } : null) });
trackUsage({ store, config, reserve: { tokens: 4000 } });
trackUsage({ store, config, paths: ['/api', /^\/v\d+\//], signingSecret: 'x'.repeat(16), leaseMs: 0 });

expectTrue<Equals<ExpressTrackUsageOptions, TrackUsageOptions<Request>>>();
expectTrue<Equals<Parameters<NonNullable<ExpressTrackUsageOptions['identify']>>, [req: Request]>>();
expectTrue<
  Equals<
    ReturnType<NonNullable<ExpressTrackUsageOptions['identify']>>,
    Identity | null | undefined | Promise<Identity | null | undefined>
  >
>();
expectTrue<
  Equals<Parameters<NonNullable<ExpressTrackUsageOptions['onThreshold']>>, [event: ThresholdEvent]>
>();
expectTrue<Equals<Parameters<NonNullable<ExpressTrackUsageOptions['onRejected']>>, [event: RejectedEvent]>>();
expectTrue<Equals<ExpressTrackUsageOptions['mode'], 'enforce' | 'shadow' | undefined>>();
expectTrue<Equals<ExpressTrackUsageOptions['paths'], Array<string | RegExp> | undefined>>();

// @ts-expect-error store is required
trackUsage({ config });
// @ts-expect-error config is required
trackUsage({ store });
// @ts-expect-error an unknown option (a typo) is refused
trackUsage({ store, config, failmode: 'closed' });
// @ts-expect-error mode is 'enforce' or 'shadow'
trackUsage({ store, config, mode: 'audit' });
// @ts-expect-error storeTimeoutMs is a number
trackUsage({ store, config, storeTimeoutMs: '100' });
// @ts-expect-error the request has no such member
trackUsage({ store, config, identify: (req) => ({ userId: req.notAMember }) });
// @ts-expect-error identify returns an identity, not a string
trackUsage({ store, config, identify: () => 'user-1' });
// @ts-expect-error reserve amounts are numbers
trackUsage({ store, config, reserve: { tokens: '4000' } });
// @ts-expect-error onThreshold's event has no such field
trackUsage({ store, config, onThreshold: (event) => event.notAField });
