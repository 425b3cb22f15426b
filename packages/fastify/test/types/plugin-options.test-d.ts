// Type-level tests of the plugin's options, compiled by `npm run typecheck` and never run: what the compiler accepts,
// refuses and infers at app.register(), through the .d.ts that @tollgate/http emits.
import Fastify, { type FastifyRequest } from 'fastify';
import type { CounterStore, TollgateConfig } from '@tollgate/core';
import type { TrackUsageOptions } from '@tollgate/http';
import { tollgate, type TollgateFastifyOptions } from '../../src';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const expectTrue = <T extends true>(): T => true as T;

declare const store: CounterStore;
declare const config: TollgateConfig;
const app = Fastify();

// The callbacks' parameter is Fastify's request: its own members type-check without a cast.
void app.register(tollgate, {
  store,
  config,
  identify: (request) => ({ userId: request.hostname, tenantId: request.id }),
  skip: (request) => request.routeOptions.url === '/health',
  reserve: (request) => ({ tokens: request.body === undefined ? 0 : 4000 }),
});
void app.register(tollgate, { store, config, reserve: { tokens: 4000 }, failMode: 'closed' });

expectTrue<Equals<TollgateFastifyOptions, TrackUsageOptions<FastifyRequest>>>();
expectTrue<Equals<Parameters<NonNullable<TollgateFastifyOptions['skip']>>, [req: FastifyRequest]>>();

// @ts-expect-error store is required
void app.register(tollgate, { config });
// @ts-expect-error failMode is 'open' or 'closed'
void app.register(tollgate, { store, config, failMode: 'sometimes' });
// @ts-expect-error the request has no such member
void app.register(tollgate, { store, config, skip: (request) => request.notAMember });
